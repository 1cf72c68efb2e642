package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/campaignd/campaignd/storage"
)

func TestImportUsersEngine(t *testing.T) {
	e, _ := newTestEngine(t)
	var sb strings.Builder
	for i := 0; i < 2500; i++ {
		fmt.Fprintf(&sb, `{"id":"u%d","n":%d}`+"\n", i%2000, i) // the last 500 lines update users again
		if i%1000 == 0 {
			sb.WriteString("oops\n")
		}
	}
	res, err := e.ImportUsers(strings.NewReader(sb.String()), ImportOptions{ChunkSize: 300, MaxErrors: 2, NewDecoder: newTestLineDecoder})
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2500 || res.Failed != 3 || len(res.Errors) != 2 || !res.ErrorsTruncated {
		t.Fatalf("unexpected result %+v", res)
	}
	if res.Errors[0].Line != 2 || res.Errors[1].Line != 1003 {
		t.Fatalf("unexpected error lines %+v", res.Errors)
	}
	u, ok, err := e.GetUser("u10")
	if err != nil || !ok || string(u.Custom) != `{"n":2010}` {
		t.Fatalf("later line did not win: %+v %v %v", u, ok, err)
	}
	var n int
	_ = e.ScanUsers(func(uint32, *storage.User) bool { n++; return true })
	if n != 2000 {
		t.Fatalf("unexpected user count %d", n)
	}
}
