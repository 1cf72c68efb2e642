package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// webhookSink POSTs one event per request, as Stream delivers webhooks: body = the event JSON
// exactly, X-Signature = lowercase hex HMAC-SHA256 of the body with the API secret (what the SDK's
// verifyWebhook compares byte for byte), X-Api-Key, X-Webhook-Id = the event id (the same on
// every attempt and replay), X-Webhook-Attempt = 1, 2, ...
//
// A batch's events are posted by up to WebhookConcurrency workers; the relay's cursor moves past
// the batch once every event in it is delivered or dead-lettered.
//
// Retry policy: timeouts, network errors, 408, 429 and 5xx are retried with exponential backoff
// (WebhookBackoff doubling up to WebhookMaxBackoff; a 429's Retry-After is honoured up to that cap).
// Other answers (3xx, other 4xx) dead-letter the event at once. An event whose retryable failures
// reach WebhookMaxAttempts is dead-lettered only if the receiver accepted some other event since
// this one's first attempt; otherwise the receiver looks down and the sink keeps retrying it (at
// WebhookMaxBackoff) for up to WebhookMaxHold since its first attempt. NB: an outage therefore
// delays delivery instead of dead-lettering every event produced during it, while an event that
// fails alone (nothing else to deliver shows the receiver is up) still ends in the dead letters.
type webhookSink struct {
	m      *Manager
	opts   *Options
	met    *sinkMetrics
	client *http.Client

	// lastSuccess is the time (unix nanos) of the latest 2xx answer.
	lastSuccess atomic.Int64
	// holding is set while events are held for a receiver that looks down (for logging once).
	holding atomic.Bool
}

var _ sink = (*webhookSink)(nil)

func newWebhookSink(m *Manager, o *Options) *webhookSink {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		MaxIdleConns:          2 * o.WebhookConcurrency,
		MaxIdleConnsPerHost:   2 * o.WebhookConcurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: o.WebhookTimeout,
		ForceAttemptHTTP2:     true,
	}
	return &webhookSink{
		m:    m,
		opts: o,
		met:  metricsFor(SinkWebhook),
		client: &http.Client{
			Transport: tr,
			// NB: a redirected POST is not a delivery; the 3xx is reported as the answer.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (s *webhookSink) name() string { return SinkWebhook }

// keep takes the events without skip_webhook.
func (s *webhookSink) keep(_ string, skipWebhook, _ bool) bool { return !skipWebhook }

func (s *webhookSink) close() { s.client.CloseIdleConnections() }

func (s *webhookSink) deliver(ctx context.Context, evs []Event) error {
	return s.forEach(ctx, len(evs), func(i int) error {
		ev := &evs[i]
		if ev.SkipWebhook {
			return nil
		}
		out, err := s.send(ctx, ev, true)
		if err != nil {
			return err
		}
		if out.delivered {
			return nil
		}
		return s.deadLetter(ev, out)
	})
}

// forEach runs fn(0..n-1) on up to WebhookConcurrency goroutines and returns the first error;
// after an error the remaining indexes are not started.
func (s *webhookSink) forEach(ctx context.Context, n int, fn func(i int) error) error {
	workers := min(s.opts.WebhookConcurrency, n)
	var (
		next     atomic.Int64
		failed   atomic.Bool
		errOnce  sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errOnce.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// outcome is how one event's delivery ended.
type outcome struct {
	delivered bool
	attempts  int
	reason    string // why it was given up
}

// send delivers ev with retries. With hold, retryable failures continue past WebhookMaxAttempts
// while the receiver looks down (see webhookSink). It returns an error only when ctx ends.
func (s *webhookSink) send(ctx context.Context, ev *Event, hold bool) (outcome, error) {
	sig := sign(s.opts.APISecret, ev.JSON)
	firstAt := time.Now()
	first := firstAt.UnixNano()
	backoff := time.Duration(0)
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := s.post(ctx, ev, sig, attempt)
		if err == nil && status >= 200 && status < 300 {
			s.lastSuccess.Store(time.Now().UnixNano())
			s.met.delivered.Inc()
			if s.holding.Load() && s.holding.CompareAndSwap(true, false) {
				s.m.log.Info("webhook receiver accepts events again; delivery resumes", "event_id", ev.ID, "attempts", attempt)
			}
			return outcome{delivered: true, attempts: attempt}, nil
		}
		if ctx.Err() != nil {
			return outcome{}, ctx.Err()
		}
		s.met.failed.Inc()
		var reason string
		if err != nil {
			reason = err.Error()
		} else {
			reason = "HTTP " + strconv.Itoa(status)
		}
		retryable := err != nil || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
		if !retryable {
			return outcome{attempts: attempt, reason: reason}, nil
		}
		if attempt >= s.opts.WebhookMaxAttempts {
			if !hold || s.lastSuccess.Load() > first || time.Since(firstAt) >= s.opts.WebhookMaxHold {
				return outcome{attempts: attempt, reason: reason}, nil
			}
			if !s.holding.Load() && s.holding.CompareAndSwap(false, true) {
				s.m.log.Warn("webhook receiver looks down (no event accepted meanwhile); holding delivery and retrying",
					"event_id", ev.ID, "seq", ev.Seq, "attempts", attempt, "last_error", reason)
			}
		}
		backoff = nextBackoff(backoff, s.opts.WebhookBackoff, s.opts.WebhookMaxBackoff)
		wait := backoff
		if retryAfter > wait {
			wait = min(retryAfter, s.opts.WebhookMaxBackoff)
		}
		s.met.retries.Inc()
		if !sleepCtx(ctx, wait) {
			return outcome{}, ctx.Err()
		}
	}
}

// post makes one attempt. It returns the status, a 429's Retry-After, or the transport error.
func (s *webhookSink) post(ctx context.Context, ev *Event, sig string, attempt int) (int, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, s.opts.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.opts.WebhookURL, bytes.NewReader(ev.JSON))
	if err != nil {
		return 0, 0, fmt.Errorf("cannot build the webhook request: %w", err)
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["X-Signature"] = []string{sig}
	h["X-Api-Key"] = []string{s.opts.APIKey}
	h["X-Webhook-Id"] = []string{ev.ID}
	h["X-Webhook-Attempt"] = []string{strconv.Itoa(attempt)}
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return 0, 0, fmt.Errorf("no answer within %s", s.opts.WebhookTimeout)
		}
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	var retryAfter time.Duration
	if resp.StatusCode == http.StatusTooManyRequests {
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			retryAfter = time.Duration(secs) * time.Second
		}
	}
	return resp.StatusCode, retryAfter, nil
}

// sign returns the lowercase hex HMAC-SHA256 of body keyed with secret (X-Signature).
func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
