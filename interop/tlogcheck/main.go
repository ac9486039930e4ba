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
//	                                       ENTRY base64 (any tree's entry: a real 120-byte leaf)
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
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

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
	case f[0] == "clear-tiles" && len(f) == 1:
		tiles = map[string][]byte{}
		return "cleared"
	}
	return "error unknown command " + strconv.Quote(strings.Join(f, " "))
}
