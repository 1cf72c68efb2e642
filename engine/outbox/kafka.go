package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	sinkName string
	topic    string
	push     bool
	opts     *Options
	log      *slog.Logger
	met      *sinkMetrics
	w        *kafka.Writer

	topicReady bool
	msgs       []kafka.Message
}

var _ sink = (*kafkaSink)(nil)

func newKafkaSink(name, topic string, push bool, o *Options) *kafkaSink {
	w := &kafka.Writer{
		Addr:                   kafka.TCP(o.Brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{}, // the Java client's default partitioner
		BatchSize:              o.KafkaBatchSize,
		BatchBytes:             1 << 20,
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
	return &kafkaSink{sinkName: name, topic: topic, push: push, opts: o, log: o.Logger, met: metricsFor(name), w: w}
}

func (s *kafkaSink) name() string { return s.sinkName }

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
	msgs := s.msgs[:0]
	for i := range evs {
		ev := &evs[i]
		if !s.push {
			msgs = append(msgs, kafka.Message{
				Key:   []byte(ev.Key),
				Value: ev.JSON,
				Headers: []kafka.Header{
					{Key: headerEventType, Value: []byte(ev.Type)},
					{Key: headerEventID, Value: []byte(ev.ID)},
				},
			})
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
		}
	}
	s.msgs = msgs[:0]
	defer clear(msgs) // drop references to the relay's buffer
	if len(msgs) == 0 {
		return nil
	}
	backoff := time.Duration(0)
	for attempt := 1; ; attempt++ {
		if !s.topicReady {
			s.ensureTopic(ctx)
		}
		err := s.w.WriteMessages(ctx, msgs...)
		if err == nil {
			s.met.delivered.Add(len(msgs))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.met.failed.Inc()
		s.met.retries.Inc()
		// Keep only the records whose partition batch failed, in order, and write them again.
		var werrs kafka.WriteErrors
		if errors.As(err, &werrs) && len(werrs) == len(msgs) {
			err = summarize(werrs)
			n := 0
			for i := range msgs {
				if werrs[i] != nil {
					msgs[n] = msgs[i]
					n++
				}
			}
			s.met.delivered.Add(len(msgs) - n)
			msgs = msgs[:n]
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
