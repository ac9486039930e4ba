// notecheck: Go's reference implementation of C2SP signed notes
// (golang.org/x/mod/sumdb/note), driven by trailseal's interop tests to show that trailseal's
// anchors, bundle manifests and keys interoperate with it.
//
//	notecheck open VERIFIER_KEY NOTE_FILE    verify a note; print {"ok":..,"text":..,"error":..}
//	notecheck sign SIGNER_KEY TEXT_FILE      sign a text; print the note
//	notecheck generate NAME                  print a new signer key and verifier key, one a line
//
// Build without network, in GOPATH mode, against Debian's golang-golang-x-mod-dev:
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o notecheck interop/notecheck/main.go
package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/note"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(2)
}

func main() {
	if len(os.Args) < 3 {
		fail("usage: notecheck open|sign|generate ...")
	}
	switch os.Args[1] {
	case "open":
		if len(os.Args) != 4 {
			fail("usage: notecheck open VERIFIER_KEY NOTE_FILE")
		}
		v, err := note.NewVerifier(os.Args[2])
		if err != nil {
			fail("verifier key: %v", err)
		}
		msg, err := os.ReadFile(os.Args[3])
		if err != nil {
			fail("%v", err)
		}
		out := map[string]interface{}{"ok": false}
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			out["error"] = err.Error()
		} else {
			out["ok"] = true
			out["text"] = n.Text
			out["signatures"] = len(n.Sigs)
		}
		enc, _ := json.Marshal(out)
		fmt.Println(string(enc))
	case "sign":
		if len(os.Args) != 4 {
			fail("usage: notecheck sign SIGNER_KEY TEXT_FILE")
		}
		s, err := note.NewSigner(os.Args[2])
		if err != nil {
			fail("signer key: %v", err)
		}
		text, err := os.ReadFile(os.Args[3])
		if err != nil {
			fail("%v", err)
		}
		signed, err := note.Sign(&note.Note{Text: string(text)}, s)
		if err != nil {
			fail("sign: %v", err)
		}
		os.Stdout.Write(signed)
	case "generate":
		skey, vkey, err := note.GenerateKey(rand.Reader, os.Args[2])
		if err != nil {
			fail("generate: %v", err)
		}
		fmt.Println(skey)
		fmt.Println(vkey)
	default:
		fail("unknown command %q", os.Args[1])
	}
}
