// checkpointcheck: Go's reference signed notes (golang.org/x/mod/sumdb/note) and tree
// descriptions (golang.org/x/mod/sumdb/tlog), driven by trailseal's interop tests to show that
// trailseal's C2SP checkpoints are read and written as Go reads and writes them.
//
//	checkpointcheck open VERIFIER_KEY NOTE_FILE
//	    note.Open the file, then tlog.ParseTree its text (the origin line replaced by the
//	    prefix ParseTree requires); print {"ok":..,"origin":..,"size":..,"hash":..,
//	    "lines":..,"error":..}
//	checkpointcheck sign SIGNER_KEY ORIGIN SIZE HASH
//	    tlog.FormatTree the tree (origin line replaced by ORIGIN), note.Sign it, print the note
//
// Build without network, in GOPATH mode, against Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o checkpointcheck interop/checkpointcheck/main.go
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The first line tlog.FormatTree writes and tlog.ParseTree requires.
const goOrigin = "go.sum database tree\n"

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

func open(vkey, file string) map[string]interface{} {
	out := map[string]interface{}{"ok": false}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail("verifier key: %v", err)
	}
	msg, err := os.ReadFile(file)
	if err != nil {
		fail("%v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		out["error"] = "note: " + err.Error()
		return out
	}
	origin, rest, found := strings.Cut(n.Text, "\n")
	if !found {
		out["error"] = "no origin line"
		return out
	}
	tree, err := tlog.ParseTree([]byte(goOrigin + rest))
	if err != nil {
		out["error"] = "tree: " + err.Error()
		return out
	}
	out["ok"] = true
	out["origin"] = origin
	out["size"] = strconv.FormatInt(tree.N, 10)
	out["hash"] = tree.Hash.String()
	out["lines"] = strings.Count(n.Text, "\n")
	return out
}

func sign(skey, origin, size, hash string) []byte {
	s, err := note.NewSigner(skey)
	if err != nil {
		fail("signer key: %v", err)
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil {
		fail("size: %v", err)
	}
	h, err := tlog.ParseHash(hash)
	if err != nil {
		fail("hash: %v", err)
	}
	text := string(tlog.FormatTree(tlog.Tree{N: n, Hash: h}))
	text = origin + "\n" + strings.TrimPrefix(text, goOrigin)
	signed, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		fail("sign: %v", err)
	}
	return signed
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: checkpointcheck open|sign ...")
	}
	switch os.Args[1] {
	case "open":
		if len(os.Args) != 4 {
			fail("usage: checkpointcheck open VERIFIER_KEY NOTE_FILE")
		}
		enc, _ := json.Marshal(open(os.Args[2], os.Args[3]))
		fmt.Println(string(enc))
	case "sign":
		if len(os.Args) != 6 {
			fail("usage: checkpointcheck sign SIGNER_KEY ORIGIN SIZE HASH")
		}
		os.Stdout.Write(sign(os.Args[2], os.Args[3], os.Args[4], os.Args[5]))
	default:
		fail("unknown command %q", os.Args[1])
	}
}
