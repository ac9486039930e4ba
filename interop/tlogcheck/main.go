// tlogcheck: Go's reference transparency-log implementation (golang.org/x/mod/sumdb/tlog),
// driven by trailseal's tree tests to show that trailseal's roots, inclusion and consistency
// proofs and C2SP tiles are the ones Go computes and accepts.
//
// It reads commands from stdin, one a line, and answers each with one line on stdout. Its
// tree holds the entries "leaf 0", "leaf 1", ... (RecordHash of each); sizes only grow.
//
//	tree SIZE                              grow the tree to SIZE; print "root B64"
//	inclusion T N ROOT PROOF               tlog.CheckRecord(PROOF, T, ROOT, N, RecordHash("leaf N"))
//	consistency T N ROOT_T ROOT_N PROOF    tlog.CheckTree(PROOF, T, ROOT_T, N, ROOT_N)
//	record T N ROOT ENTRY PROOF            tlog.CheckRecord(PROOF, T, ROOT, N, RecordHash(ENTRY)),
//	                                       ENTRY the base64 of any entry (e.g. a trailseal
//	                                       leaf from a proof file), not this program's tree
//	prove-inclusion T N                    print "proof PROOF" (tlog.ProveRecord)
//	prove-consistency T N                  print "proof PROOF" (tlog.ProveTree)
//	tile PATH DATA                         remember a C2SP tile (DATA base64); print "stored"
//	check-tiles SIZE ROOT                  the remembered tiles are exactly the C2SP tiles of
//	                                       the tree of SIZE, each equal to tlog.ReadTileData,
//	                                       and read-tiles holds
//	read-tiles SIZE ROOT                   tlog.TileHashReader over the remembered tiles:
//	                                       TreeHash(SIZE) == ROOT and every stored hash read
//	                                       back equals Go's own (that comparison matters:
//	                                       x/mod 0.7.0's TileHashReader alone returns hashes
//	                                       from a tampered full tile when the right-edge
//	                                       subtrees share tiles, e.g. tile/0/000 at size 300)
//	clear-tiles                            forget the tiles; print "cleared"
//	check-dir DIR VKEY                     a C2SP tile directory as a client reads it (the
//	                                       tree above is not used): DIR/checkpoint opened
//	                                       with note.Open and VKEY (origin, size, root by
//	                                       tlog.ParseTree); every entry bundle the size
//	                                       calls for parsed, its entries hashed
//	                                       (tlog.RecordHash) into Go's own stored hashes
//	                                       (tlog.StoredHashes); TreeHash of those == root;
//	                                       CheckRecord of every entry (ProveRecord over
//	                                       them); every hash tile the size calls for equal
//	                                       to tlog.ReadTileData over them; tlog's
//	                                       TileHashReader over the directory's files gives
//	                                       TreeHash == root and, for up to ~1,500 entries
//	                                       (all of them in small trees), the same
//	                                       ProveRecord proofs. Every file under DIR is the
//	                                       checkpoint, a tile the size calls for, or a
//	                                       narrower partial tile of one (superseded; C2SP
//	                                       lets them stay); no symbolic link. Prints "ok
//	                                       size N entries N tiles T stale S" or "refused
//	                                       STAGE: WHY"
//
// PROOF is base64 hashes joined by "," or "-" for none. Checks print "ok" or "refused WHY".
//
// Build without network, in GOPATH mode, against Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o tlogcheck interop/tlogcheck/main.go
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var (
	stored []tlog.Hash
	size   int64
	tiles  = map[string][]byte{}
)

var reader = tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(stored)) {
			return nil, fmt.Errorf("stored hash %d missing", x)
		}
		out[i] = stored[x]
	}
	return out, nil
})

func entry(n int64) []byte { return []byte(fmt.Sprintf("leaf %d", n)) }

func grow(to int64) error {
	for ; size < to; size++ {
		hashes, err := tlog.StoredHashes(size, entry(size), reader)
		if err != nil {
			return err
		}
		stored = append(stored, hashes...)
	}
	return nil
}

func parseProof(s string) ([]tlog.Hash, error) {
	if s == "-" {
		return nil, nil
	}
	var p []tlog.Hash
	for _, f := range strings.Split(s, ",") {
		h, err := tlog.ParseHash(f)
		if err != nil {
			return nil, err
		}
		p = append(p, h)
	}
	return p, nil
}

func formatProof(p []tlog.Hash) string {
	if len(p) == 0 {
		return "-"
	}
	var f []string
	for _, h := range p {
		f = append(f, h.String())
	}
	return strings.Join(f, ",")
}

// c2sp maps Go's sumdb tile path (tile/8/L/N) to the C2SP one (tile/L/N).
func c2sp(t tlog.Tile) string { return "tile/" + strings.TrimPrefix(t.Path(), "tile/8/") }

type tileReader struct{}

func (tileReader) Height() int { return 8 }
func (tileReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range ts {
		data, ok := tiles[c2sp(t)]
		if !ok {
			return nil, fmt.Errorf("tile %s missing", c2sp(t))
		}
		out = append(out, data)
	}
	return out, nil
}
func (tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

func readTiles(n int64, root tlog.Hash) error {
	thr := tlog.TileHashReader(tlog.Tree{N: n, Hash: root}, tileReader{})
	th, err := tlog.TreeHash(n, thr)
	if err != nil {
		return err
	}
	if th != root {
		return fmt.Errorf("tree hash %v from tiles, want %v", th, root)
	}
	count := tlog.StoredHashCount(n)
	indexes := make([]int64, count)
	for i := range indexes {
		indexes[i] = int64(i)
	}
	got, err := thr.ReadHashes(indexes)
	if err != nil {
		return err
	}
	for i, h := range got {
		if h != stored[i] {
			return fmt.Errorf("stored hash %d from tiles differs", i)
		}
	}
	return nil
}

func checkTiles(n int64, root tlog.Hash) (string, error) {
	// C2SP keeps, per level and number, the full tile or the widest partial one.
	want := map[string]tlog.Tile{}
	widest := map[[2]int64]int{}
	all := tlog.NewTiles(8, 0, n)
	for _, t := range all {
		k := [2]int64{int64(t.L), t.N}
		if t.W > widest[k] {
			widest[k] = t.W
		}
	}
	for _, t := range all {
		if t.W == widest[[2]int64{int64(t.L), t.N}] {
			want[c2sp(t)] = t
		}
	}
	var have, need []string
	for p := range tiles {
		have = append(have, p)
	}
	for p := range want {
		need = append(need, p)
	}
	sort.Strings(have)
	sort.Strings(need)
	if strings.Join(have, " ") != strings.Join(need, " ") {
		return "tile-set", fmt.Errorf("tiles %v, want %v", have, need)
	}
	for p, t := range want {
		data, err := tlog.ReadTileData(t, reader)
		if err != nil {
			return "tile-data", err
		}
		if !bytes.Equal(data, tiles[p]) {
			return "tile-data", fmt.Errorf("tile %s differs from tlog.ReadTileData", p)
		}
	}
	if err := readTiles(n, root); err != nil {
		return "tile-read", err
	}
	return "", nil
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		f := strings.Fields(in.Text())
		fmt.Fprintln(out, run(f))
	}
	if err := in.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

func num(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

func hash(s string) tlog.Hash {
	h, err := tlog.ParseHash(s)
	if err != nil {
		return tlog.Hash{}
	}
	return h
}

func verdict(err error) string {
	if err != nil {
		return "refused " + err.Error()
	}
	return "ok"
}

func run(f []string) string {
	if len(f) == 0 {
		return "error empty command"
	}
	switch {
	case f[0] == "tree" && len(f) == 2:
		if err := grow(num(f[1])); err != nil {
			return "error " + err.Error()
		}
		th, err := tlog.TreeHash(num(f[1]), reader)
		if err != nil {
			return "error " + err.Error()
		}
		return "root " + th.String()
	case f[0] == "inclusion" && len(f) == 5:
		p, err := parseProof(f[4])
		if err != nil {
			return verdict(err)
		}
		n := num(f[2])
		return verdict(tlog.CheckRecord(p, num(f[1]), hash(f[3]), n, tlog.RecordHash(entry(n))))
	case f[0] == "record" && len(f) == 6:
		p, err := parseProof(f[5])
		if err != nil {
			return verdict(err)
		}
		e, err := base64.StdEncoding.DecodeString(f[4])
		if err != nil {
			return "error " + err.Error()
		}
		return verdict(tlog.CheckRecord(p, num(f[1]), hash(f[3]), num(f[2]), tlog.RecordHash(e)))
	case f[0] == "consistency" && len(f) == 6:
		p, err := parseProof(f[5])
		if err != nil {
			return verdict(err)
		}
		return verdict(tlog.CheckTree(p, num(f[1]), hash(f[3]), num(f[2]), hash(f[4])))
	case f[0] == "prove-inclusion" && len(f) == 3:
		p, err := tlog.ProveRecord(num(f[1]), num(f[2]), reader)
		if err != nil {
			return "error " + err.Error()
		}
		return "proof " + formatProof(p)
	case f[0] == "prove-consistency" && len(f) == 3:
		p, err := tlog.ProveTree(num(f[1]), num(f[2]), reader)
		if err != nil {
			return "error " + err.Error()
		}
		return "proof " + formatProof(p)
	case f[0] == "tile" && len(f) == 3:
		data, err := base64.StdEncoding.DecodeString(f[2])
		if err != nil {
			return "error " + err.Error()
		}
		tiles[f[1]] = data
		return "stored"
	case f[0] == "check-tiles" && len(f) == 3:
		if stage, err := checkTiles(num(f[1]), hash(f[2])); err != nil {
			return "refused " + stage + ": " + err.Error()
		}
		return "ok"
	case f[0] == "read-tiles" && len(f) == 3:
		return verdict(readTiles(num(f[1]), hash(f[2])))
	case f[0] == "check-dir" && len(f) == 3:
		if stage, msg, err := checkDir(f[1], f[2]); err != nil {
			return "refused " + stage + ": " + err.Error()
		} else {
			return "ok " + msg
		}
	case f[0] == "clear-tiles" && len(f) == 1:
		tiles = map[string][]byte{}
		return "cleared"
	}
	return "error unknown command " + strconv.Quote(strings.Join(f, " "))
}

// goPath maps a C2SP tile path to Go's sumdb form (tile/8/L/N, entries as tile/8/data/N).
func goPath(p string) string {
	if strings.HasPrefix(p, "tile/entries/") {
		return "tile/8/data/" + strings.TrimPrefix(p, "tile/entries/")
	}
	return "tile/8/" + strings.TrimPrefix(p, "tile/")
}

// c2spEntries is the C2SP path of the entry bundle of level-0 tile t.
func c2spEntries(t tlog.Tile) string {
	return "tile/entries/" + strings.TrimPrefix(c2sp(t), "tile/0/")
}

type dirReader struct {
	dir   string
	cache map[string][]byte
}

func (dirReader) Height() int { return 8 }
func (r dirReader) ReadTiles(ts []tlog.Tile) ([][]byte, error) {
	var out [][]byte
	for _, t := range ts {
		p := c2sp(t)
		data, ok := r.cache[p]
		if !ok {
			var err error
			data, err = os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(p)))
			if err != nil {
				return nil, err
			}
			r.cache[p] = data
		}
		out = append(out, data)
	}
	return out, nil
}
func (dirReader) SaveTiles([]tlog.Tile, [][]byte) {}

func parseBundle(data []byte, width int) ([][]byte, error) {
	var out [][]byte
	for i := 0; i < width; i++ {
		if len(data) < 2 {
			return nil, fmt.Errorf("entry %d: truncated", i)
		}
		n := int(binary.BigEndian.Uint16(data))
		data = data[2:]
		if len(data) < n {
			return nil, fmt.Errorf("entry %d: truncated", i)
		}
		out = append(out, data[:n])
		data = data[n:]
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("bytes after entry %d", width)
	}
	return out, nil
}

func checkDir(dir, vkey string) (string, string, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return "usage", "", err
	}
	msg, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		return "checkpoint", "", err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return "checkpoint", "", err
	}
	_, rest, found := strings.Cut(n.Text, "\n")
	if !found {
		return "checkpoint", "", fmt.Errorf("no origin line")
	}
	tree, err := tlog.ParseTree([]byte("go.sum database tree\n" + rest))
	if err != nil {
		return "checkpoint", "", err
	}
	size := tree.N
	// The tiles the size calls for: per level and number, the full or widest partial one.
	want := map[string]tlog.Tile{}
	widest := map[[2]int64]int{}
	all := tlog.NewTiles(8, 0, size)
	for _, t := range all {
		k := [2]int64{int64(t.L), t.N}
		if t.W > widest[k] {
			widest[k] = t.W
		}
	}
	var level0 []tlog.Tile
	for _, t := range all {
		if t.W == widest[[2]int64{int64(t.L), t.N}] {
			want[c2sp(t)] = t
			if t.L == 0 {
				level0 = append(level0, t)
			}
		}
	}
	sort.Slice(level0, func(i, j int) bool { return level0[i].N < level0[j].N })
	// Every file under DIR.
	stale := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%s: a symbolic link", p)
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s: not a regular file", rel)
		}
		if rel == "checkpoint" {
			return nil
		}
		t, err := tlog.ParseTilePath(goPath(rel))
		if err != nil || goPath(rel) != t.Path() {
			return fmt.Errorf("%s: not a tile path", rel)
		}
		level := t.L
		if level == -1 {
			level = 0
		}
		w := widest[[2]int64{int64(level), t.N}]
		switch {
		case t.W == w:
			return nil
		case t.W < w:
			stale++
			return nil
		}
		return fmt.Errorf("%s: not a tile of the tree of size %d", rel, size)
	})
	if err != nil {
		return "files", "", err
	}
	// The entries, hashed into Go's own stored hashes.
	var own []tlog.Hash
	ownReader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(own)) {
				return nil, fmt.Errorf("stored hash %d missing", x)
			}
			out[i] = own[x]
		}
		return out, nil
	})
	var entries [][]byte
	for _, t := range level0 {
		p := c2spEntries(t)
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return "entries", "", err
		}
		es, err := parseBundle(data, t.W)
		if err != nil {
			return "entries", "", fmt.Errorf("%s: %v", p, err)
		}
		for _, e := range es {
			hashes, err := tlog.StoredHashes(int64(len(entries)), e, ownReader)
			if err != nil {
				return "entries", "", err
			}
			own = append(own, hashes...)
			entries = append(entries, e)
		}
	}
	if int64(len(entries)) != size {
		return "entries", "", fmt.Errorf("%d entries, the checkpoint says %d", len(entries), size)
	}
	th, err := tlog.TreeHash(size, ownReader)
	if err != nil {
		return "root", "", err
	}
	if th != tree.Hash {
		return "root", "", fmt.Errorf("the entries give root %v, the checkpoint %v", th, tree.Hash)
	}
	for i, e := range entries {
		p, err := tlog.ProveRecord(size, int64(i), ownReader)
		if err != nil {
			return "inclusion", "", err
		}
		if err := tlog.CheckRecord(p, size, tree.Hash, int64(i), tlog.RecordHash(e)); err != nil {
			return "inclusion", "", fmt.Errorf("entry %d: %v", i, err)
		}
	}
	for p, t := range want {
		data, err := tlog.ReadTileData(t, ownReader)
		if err != nil {
			return "tile-data", "", err
		}
		held, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(p)))
		if err != nil {
			return "tile-data", "", err
		}
		if !bytes.Equal(data, held) {
			return "tile-data", "", fmt.Errorf("%s differs from tlog.ReadTileData", p)
		}
	}
	thr := tlog.TileHashReader(tree, dirReader{dir: dir, cache: map[string][]byte{}})
	th, err = tlog.TreeHash(size, thr)
	if err != nil {
		return "tile-read", "", err
	}
	if th != tree.Hash {
		return "tile-read", "", fmt.Errorf("tree hash %v from tiles, want %v", th, tree.Hash)
	}
	step := size/1000 + 1
	for i := int64(0); i < size; i++ {
		if i%step != 0 && i < size-256 {
			continue
		}
		a, err := tlog.ProveRecord(size, i, thr)
		if err != nil {
			return "tile-read", "", fmt.Errorf("entry %d: %v", i, err)
		}
		b, _ := tlog.ProveRecord(size, i, ownReader)
		if formatProof(a) != formatProof(b) {
			return "tile-read", "", fmt.Errorf("entry %d: the proof from the tiles differs", i)
		}
	}
	return "", fmt.Sprintf("size %d entries %d tiles %d stale %d", size, len(entries), len(want), stale), nil
}
