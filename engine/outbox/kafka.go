package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
)

// Kafka record format.
//
// Events topic: key = Event.Key (the cid; the campaign id for campaign events), value = the event
// JSON exactly as the webhook receives it, headers event_type and event_id.
//
// Push topic: for each message.new without skip_push, one record per receiver: key = the receiver's
// user id (so one user's pushes stay ordered), value = the same event JSON, headers event_type,
// event_id and receiver_id. Consumers dedupe on (event_id, receiver_id).
const (
	headerEventType  = "event_type"
	headerEventID    = "event_id"
	headerReceiverID = "receiver_id"
)

// kafkaSink writes events to one topic with a kafka-go Writer. It never drops: a failed write is
// retried with backoff until it succeeds or the relay stops.
type kafkaSink struct {
	m        *Manager
	sinkName string
	topic    string
	push     bool
	opts     *Options
	log      *slog.Logger
	met      *sinkMetrics
	w        *kafka.Writer

	topicReady bool
	// failing is set while writes to the broker fail (see Manager.Backlog).
	failing atomic.Bool
	msgs    []kafka.Message
	idx     []int // idx[i] is the index in evs of msgs[i]
}

// maxRecordBytes is the largest record the sink sends: kafka-go's BatchBytes and the brokers'
// default message.max.bytes. Larger events are dead-lettered (they could never be written).
const maxRecordBytes = 1 << 20

var _ sink = (*kafkaSink)(nil)

func newKafkaSink(m *Manager, name, topic string, push bool, o *Options) *kafkaSink {
	w := &kafka.Writer{
		Addr:                   kafka.TCP(o.Brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{}, // the Java client's default partitioner
		BatchSize:              o.KafkaBatchSize,
		BatchBytes:             maxRecordBytes,
		BatchTimeout:           o.KafkaBatchTimeout,
		RequiredAcks:           kafka.RequireAll,
		AllowAutoTopicCreation: true,
		// NB: the sink retries forever itself; few in-writer attempts keep Stop fast when the
		// broker is down.
		MaxAttempts:     2,
		WriteBackoffMin: 50 * time.Millisecond,
		WriteBackoffMax: 500 * time.Millisecond,
		ReadTimeout:     10 * time.Second,
		WriteTimeout:    10 * time.Second,
		Transport: &kafka.Transport{
			DialTimeout: 5 * time.Second,
			IdleTimeout: 30 * time.Second,
			MetadataTTL: 10 * time.Second,
			ClientID:    "campaignd",
		},
	}
	switch o.KafkaCompression {
	case "gzip":
		w.Compression = kafka.Gzip
	case "snappy":
		w.Compression = kafka.Snappy
	case "lz4":
		w.Compression = kafka.Lz4
	case "zstd":
		w.Compression = kafka.Zstd
	}
	return &kafkaSink{m: m, sinkName: name, topic: topic, push: push, opts: o, log: o.Logger, met: metricsFor(name), w: w}
}

func (s *kafkaSink) name() string { return s.sinkName }

// keep takes every event for the events topic, and message.new without skip_push for the push topic.
func (s *kafkaSink) keep(typ string, _, skipPush bool) bool {
	return !s.push || typ == "message.new" && !skipPush
}

func (s *kafkaSink) close() {
	// NB: Writer.Close flushes and may wait on a dead broker for its write timeout; bound it.
	done := make(chan error, 1)
	go func() { done <- s.w.Close() }()
	select {
	case err := <-done:
		if err != nil {
			s.log.Warn("cannot close the kafka writer", "sink", s.sinkName, "err", err)
		}
	case <-time.After(5 * time.Second):
		s.log.Warn("kafka writer did not close within 5s; abandoning it", "sink", s.sinkName)
	}
}

func (s *kafkaSink) deliver(ctx context.Context, evs []Event) error {
	msgs, idx := s.msgs[:0], s.idx[:0]
	for i := range evs {
		ev := &evs[i]
		var key []byte
		if ev.Key != "" {
			key = []byte(ev.Key)
		}
		if !s.push {
			msgs = append(msgs, kafka.Message{
				Key:   key,
				Value: ev.JSON,
				Headers: []kafka.Header{
					{Key: headerEventType, Value: []byte(ev.Type)},
					{Key: headerEventID, Value: []byte(ev.ID)},
				},
			})
			idx = append(idx, i)
			continue
		}
		if ev.Type != "message.new" || ev.SkipPush {
			continue
		}
		for _, rcv := range ev.Receivers {
			msgs = append(msgs, kafka.Message{
				Key:   []byte(rcv),
				Value: ev.JSON,
				Headers: []kafka.Header{
					{Key: headerEventType, Value: []byte(ev.Type)},
					{Key: headerEventID, Value: []byte(ev.ID)},
					{Key: headerReceiverID, Value: []byte(rcv)},
				},
			})
			idx = append(idx, i)
		}
	}
	s.msgs, s.idx = msgs[:0], idx[:0]
	defer clear(msgs) // drop references to the relay's buffer
	// Records that can never be written are dead-lettered instead of blocking the sink forever.
	n := 0
	for i := range msgs {
		if sz := recordSize(&msgs[i]); sz > maxRecordBytes {
			if err := s.deadLetter(&evs[idx[i]], fmt.Sprintf("record of %d bytes exceeds the %d-byte limit", sz, maxRecordBytes)); err != nil {
				return err
			}
			continue
		}
		msgs[n], idx[n] = msgs[i], idx[i]
		n++
	}
	msgs, idx = msgs[:n], idx[:n]
	ok := 0
	backoff := time.Duration(0)
	for attempt := 1; len(msgs) > 0; attempt++ {
		if !s.topicReady {
			s.ensureTopic(ctx)
		}
		err := s.w.WriteMessages(ctx, msgs...)
		if err == nil {
			s.failing.Store(false)
			s.met.delivered.Add(len(msgs))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.failing.Store(true)
		s.met.failed.Inc()
		s.met.retries.Inc()
		// Keep only the records whose partition batch failed, in order, and write them again.
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(msgs) {
			err = summarize(werrs)
			n, ok = 0, 0
			for i := range msgs {
				switch {
				case werrs[i] == nil:
					ok++
				case errors.Is(werrs[i], kafka.MessageSizeTooLarge):
					if derr := s.deadLetter(&evs[idx[i]], "rejected by the broker: "+werrs[i].Error()); derr != nil {
						return derr
					}
				default:
					msgs[n], idx[n] = msgs[i], idx[i]
					n++
				}
			}
			s.met.delivered.Add(ok)
			msgs, idx = msgs[:n], idx[:n]
			if n == 0 {
				return nil
			}
		}
		if errors.Is(err, kafka.UnknownTopicOrPartition) {
			s.topicReady = false
		}
		backoff = nextBackoff(backoff, s.opts.RetryBackoff, s.opts.RetryMaxBackoff)
		level := slog.LevelWarn
		if attempt > 3 {
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "cannot write to kafka; retrying", "sink", s.sinkName, "topic", s.topic,
			"records", len(msgs), "attempt", attempt, "retry_in", backoff, "err", err)
		if !sleepCtx(ctx, backoff) {
			return ctx.Err()
		}
	}
	return nil
}

// recordSize approximates kafka-go's size of m in a batch.
func recordSize(m *kafka.Message) int {
	n := 32 + len(m.Key) + len(m.Value)
	for _, h := range m.Headers {
		n += 10 + len(h.Key) + len(h.Value)
	}
	return n
}

// deadLetter keeps an event the broker can never take.
func (s *kafkaSink) deadLetter(ev *Event, reason string) error {
	d := DeadLetter{Attempts: 1, LastError: reason, DeadAt: time.Now(), Event: ev.OutboxEvent}
	if err := s.m.storeDeadLetter(s.sinkName, ev.Seq, &d); err != nil {
		return err
	}
	s.met.deadLetters.Inc()
	s.m.kafkaDead.note(s.sinkName, ev.ID, reason, "seq", ev.Seq)
	return nil
}

// ensureTopic creates the topic with the broker's default partition count and replication if it
// does not exist. It is best effort: brokers that refuse (no permission, old protocol) still
// auto-create topics or have them created by their operators.
func (s *kafkaSink) ensureTopic(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c := &kafka.Client{Addr: s.w.Addr, Timeout: 10 * time.Second, Transport: s.w.Transport}
	res, err := c.CreateTopics(cctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: s.topic, NumPartitions: -1, ReplicationFactor: -1}},
	})
	if err != nil {
		s.log.Debug("cannot create the kafka topic; relying on auto-creation", "topic", s.topic, "err", err)
		return
	}
	if terr := res.Errors[s.topic]; terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
		s.log.Warn("cannot create the kafka topic; relying on auto-creation", "topic", s.topic, "err", terr)
	} else if terr == nil {
		s.log.Info("created kafka topic", "topic", s.topic)
	}
	s.topicReady = true
}

// summarize turns kafka-go's per-record errors (one line each) into one short error.
func summarize(werrs kafka.WriteErrors) error {
	var first error
	for _, e := range werrs {
		if e != nil {
			first = e
			break
		}
	}
	return fmt.Errorf("%d of %d records failed, e.g.: %w", werrs.Count(), len(werrs), first)
}
