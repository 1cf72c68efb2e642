package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/VictoriaMetrics/metrics"

	"github.com/campaignd/campaignd/storage"
)

// ImportOptions configures ImportUsers. A zero field means the default.
type ImportOptions struct {
	// ChunkSize is the number of users interned and committed together (one fsync). Default 10000.
	ChunkSize int
	// MaxLineSize is the longest line accepted, in bytes; longer lines are reported and skipped.
	// Default 1 MiB.
	MaxLineSize int
	// MaxErrors is how many line errors the result lists; the rest are only counted. Default 1000.
	MaxErrors int
	// NewDecoder returns a decoder of import lines (wire.UserDecoder); each chunk in flight has its
	// own. Required.
	NewDecoder func() UserLineDecoder
}

// UserLineDecoder decodes the lines of a user import, one user object each. Decoded users may
// alias the decoder's memory until its next Reset. Errors are *Error saying what to fix.
type UserLineDecoder interface {
	DecodeUserLine(line []byte, u *storage.User) error
	Reset()
}

// EnsureDefaults fills zero fields with their defaults.
func (o *ImportOptions) EnsureDefaults() {
	if o.ChunkSize <= 0 {
		o.ChunkSize = 10000
	}
	if o.MaxLineSize <= 0 {
		o.MaxLineSize = 1 << 20
	}
	if o.MaxErrors <= 0 {
		o.MaxErrors = 1000
	}
}

// ImportLineError is one rejected line of an import.
type ImportLineError struct {
	Line   int    // 1-based line number
	Reason string // what is wrong with the line
}

// ImportResult counts what an import did.
type ImportResult struct {
	Imported        int
	Failed          int
	Errors          []ImportLineError
	ErrorsTruncated bool
}

var (
	usersImported     = metrics.NewCounter(`campaignd_users_imported_total`)
	usersImportFailed = metrics.NewCounter(`campaignd_users_import_failed_total`)
)

// importChunk is a batch of decoded users on its way from the decoder to the committer.
type importChunk struct {
	dec   UserLineDecoder
	users []storage.User
	ids   []string
	ords  []uint32
}

// ImportUsers reads NDJSON from r, one user object per line, and upserts every valid user (same
// semantics as UpsertUsers). Empty lines are skipped; a bad line is reported with its number and
// skipped while the others are stored. Users are committed in chunks of opts.ChunkSize (one
// intern call and one Tx each), decoding the next chunk while the previous one commits, so memory
// stays bounded whatever the input size. A later line with the same id wins.
//
// An error is returned only when reading r or storing fails; the result then counts what was
// stored before.
func (e *Engine) ImportUsers(r io.Reader, opts ImportOptions) (ImportResult, error) {
	opts.EnsureDefaults()
	var res ImportResult
	if opts.NewDecoder == nil {
		return res, errors.New("engine: ImportOptions.NewDecoder is required (wire.NewUserDecoder)")
	}
	free := make(chan *importChunk, 2)
	for i := 0; i < cap(free); i++ {
		free <- &importChunk{dec: opts.NewDecoder(), users: make([]storage.User, 0, opts.ChunkSize), ids: make([]string, 0, opts.ChunkSize)}
	}
	full := make(chan *importChunk, 1)
	done := make(chan struct{})
	commitErr := make(chan error, 1)
	go func() {
		var err error
		for c := range full {
			if err == nil {
				// Low disk space stops the import between chunks.
				if err = e.CheckDiskSpace(); err == nil {
					c.ords, err = e.putUsers(c.users, c.ids, c.ords)
				}
				if err == nil {
					res.Imported += len(c.users)
					usersImported.Add(len(c.users))
				} else {
					close(done)
				}
			}
			c.users, c.ids = c.users[:0], c.ids[:0]
			c.dec.Reset()
			free <- c
		}
		commitErr <- err
	}()

	readErr := e.readImport(r, &opts, &res, free, full, done)
	close(full)
	err := <-commitErr
	usersImportFailed.Add(res.Failed)
	if ae, ok := AsError(err); ok && ae.Status == 507 {
		ae.Msg += fmt.Sprintf(" (the import stopped after %d users)", res.Imported)
	}
	if err != nil {
		return res, err
	}
	return res, readErr
}

// readImport decodes lines into chunks and hands full chunks to the committer.
func (e *Engine) readImport(r io.Reader, opts *ImportOptions, res *ImportResult, free <-chan *importChunk, full chan<- *importChunk, done <-chan struct{}) error {
	br := bufio.NewReaderSize(r, 256<<10)
	var (
		c       = <-free
		long    []byte
		tooLong bool
		lineNo  int
	)
	fail := func(reason string) {
		res.Failed++
		if len(res.Errors) < opts.MaxErrors {
			res.Errors = append(res.Errors, ImportLineError{Line: lineNo, Reason: reason})
		} else {
			res.ErrorsTruncated = true
		}
	}
	send := func() bool {
		select {
		case full <- c:
		case <-done:
			return false
		}
		select {
		case c = <-free:
			return true
		case <-done:
			return false
		}
	}
	for {
		frag, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !tooLong {
				long = append(long, frag...)
				if len(long) > opts.MaxLineSize {
					tooLong, long = true, long[:0]
				}
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("cannot read the import body at line %d: %w", lineNo+1, err)
		}
		line := frag
		if len(long) > 0 {
			long = append(long, frag...)
			line = long
		}
		if len(frag) > 0 || len(long) > 0 || tooLong {
			lineNo++
			rawLen := len(line)
			if rawLen > 0 && line[rawLen-1] == '\n' {
				rawLen--
			}
			line = bytes.TrimSpace(line)
			switch {
			case tooLong || rawLen > opts.MaxLineSize:
				fail(fmt.Sprintf("the line is longer than %d bytes", opts.MaxLineSize))
			case len(line) == 0:
				// empty line: skipped
			default:
				c.users = append(c.users, storage.User{})
				u := &c.users[len(c.users)-1]
				if derr := c.dec.DecodeUserLine(line, u); derr != nil {
					c.users = c.users[:len(c.users)-1]
					fail(derr.Error())
				} else {
					c.ids = append(c.ids, u.ID)
				}
			}
			long, tooLong = long[:0], false
			if cap(long) > 4<<20 {
				long = nil
			}
		}
		if len(c.users) >= opts.ChunkSize {
			if !send() {
				return nil // the committer failed; ImportUsers returns its error
			}
		}
		if err != nil { // io.EOF
			break
		}
	}
	if len(c.users) > 0 {
		select {
		case full <- c:
		case <-done:
		}
	}
	return nil
}
