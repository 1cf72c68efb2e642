package httpd

import (
	"errors"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/campaignd/campaignd/wire"
)

// listener wraps the TCP listener fasthttp serves:
//
//   - Accept errors other than a closed listener (EMFILE, ENFILE, ECONNABORTED, ENOBUFS, ...) are
//     retried with backoff (5 ms doubling to 1 s, as net/http does) instead of ending Serve, so
//     running out of file descriptors delays new connections and never stops the process.
//   - At most max connections are open at once; a connection past that is answered with a
//     Stream-shaped 503 and closed (fasthttp's own Concurrency, set to the same bound, would
//     answer in plain text).
//   - It keeps every open connection so that Shutdown can cut those clients still hold when the
//     shutdown timeout passes.
type listener struct {
	net.Listener
	max int
	log *slog.Logger

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed chan struct{}
	once   sync.Once
}

var (
	acceptErrorsTotal  = metrics.NewCounter(`campaignd_http_accept_errors_total`)
	connsRejectedTotal = metrics.NewCounter(`campaignd_http_conns_rejected_total`)
)

func newListener(ln net.Listener, max int, log *slog.Logger) *listener {
	return &listener{Listener: ln, max: max, log: log, conns: make(map[*conn]struct{}), closed: make(chan struct{})}
}

// Accept returns the next connection; it fails only once the listener is closed.
func (l *listener) Accept() (net.Conn, error) {
	var delay time.Duration
	var lastLog time.Time
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return nil, net.ErrClosed
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			acceptErrorsTotal.Inc()
			if delay == 0 {
				delay = 5 * time.Millisecond
			} else if delay *= 2; delay > time.Second {
				delay = time.Second
			}
			if time.Since(lastLog) > 10*time.Second {
				l.log.Warn("cannot accept connections; retrying", "err", err, "retry_in", delay, "open_connections", l.open())
				lastLog = time.Now()
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-l.closed:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		delay = 0
		l.mu.Lock()
		if len(l.conns) >= l.max {
			l.mu.Unlock()
			l.reject(c)
			continue
		}
		wc := &conn{Conn: c, l: l}
		l.conns[wc] = struct{}{}
		l.mu.Unlock()
		return wc, nil
	}
}

// reject answers c with a Stream-shaped 503 and closes it. The write goes to a fresh socket's
// empty send buffer, so it does not block the accept loop (the deadline guards it anyway).
func (l *listener) reject(c net.Conn) {
	connsRejectedTotal.Inc()
	body := `{"code":-1,"message":"campaignd serves at most ` + strconv.Itoa(l.max) +
		` connections at once (-http.maxConcurrentConns); retry later or reuse connections","StatusCode":503,"duration":"0.00ms","more_info":"` + wire.MoreInfo + `","details":[]}`
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	_, _ = c.Write([]byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body))
	_ = c.Close()
}

// Close closes the listener; a pending Accept returns net.ErrClosed.
func (l *listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

func (l *listener) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// closeAll closes every open connection and returns how many there were.
func (l *listener) closeAll() int {
	l.mu.Lock()
	cs := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		cs = append(cs, c)
	}
	l.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
	return len(cs)
}

// conn is an accepted connection; Close forgets it in its listener.
type conn struct {
	net.Conn
	l    *listener
	once sync.Once
}

func (c *conn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// CloseWrite shuts down the sending side (a TCP FIN) when the connection supports it.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
