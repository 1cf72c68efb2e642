package storage

import (
	"testing"
	"time"
)

func TestMonthlySent(t *testing.T) {
	db := mustOpenTestStore(t)
	b := db.NewBatch()
	b.PutMonthlySent(202601, "a", 7)
	b.PutMonthlySent(202602, "a", 5)
	b.PutMonthlySent(202602, "b", 11)
	b.PutMonthlySent(202602, "b", 12) // a later chunk of b rewrites its count
	b.PutMonthlySent(202603, "a", 100)
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	f := func(month uint32, want uint64) {
		t.Helper()
		got, err := SumMonthlySent(db, month)
		if err != nil || got != want {
			t.Fatalf("SumMonthlySent(%d): got %d (%v); want %d", month, got, err, want)
		}
	}
	f(202601, 7)
	f(202602, 17)
	f(202603, 100)
	f(202604, 0)
	if n, err := ReadMonthlySent(db, 202602, "b"); err != nil || n != 12 {
		t.Fatalf("ReadMonthlySent: got %d (%v); want 12", n, err)
	}
	if n, err := ReadMonthlySent(db, 202602, "c"); err != nil || n != 0 {
		t.Fatalf("ReadMonthlySent of a campaign that sent nothing: got %d (%v); want 0", n, err)
	}
	if m := Month(time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("x", -3600))); m != 202701 {
		t.Fatalf("Month is not taken in UTC; got %d; want 202701", m)
	}
}
