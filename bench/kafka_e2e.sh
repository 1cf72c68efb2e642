#!/usr/bin/env bash
# End-to-end delivery figure (README "Benchmarks"): one campaign to N recipients over new channels with the
# embedded Kafka broker on (events and push sinks), then: how long after the campaign's start did the
# broker ack every event, against the campaign's send time? Needs `make build`, kcat (apt-get install
# kcat) and python3. Usage: N=1000000 bench/kafka_e2e.sh   (ports 3031 and 9093, data in a temp dir)
set -u
N=${N:-1000000}
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
"$BIN/campaignd" -httpListenAddr=127.0.0.1:3031 -storageDataPath="$D/data" -apiKey=k -apiSecret=s \
	-kafka.embedded -kafka.embeddedAddr=127.0.0.1:9093 2> "$D/campaignd.log" &
CPID=$!
for _ in $(seq 1 100); do curl -sf 127.0.0.1:3031/healthz >/dev/null && break; sleep 0.2; done
TOKEN=$(python3 -c "
import hmac,hashlib,base64
b=lambda x: base64.urlsafe_b64encode(x).rstrip(b'=').decode()
h=b(b'{\"alg\":\"HS256\",\"typ\":\"JWT\"}'); p=b(b'{\"server\":true}')
print(h+'.'+p+'.'+b(hmac.new(b's',(h+'.'+p).encode(),hashlib.sha256).digest()))")
lag() { curl -s 127.0.0.1:3031/metrics | awk '/^campaignd_outbox_lag_events\{sink="(kafka|push)"\}/ {s+=$2} END {print s+0}'; }

"$BIN/campaignbench" -url http://127.0.0.1:3031 -apiKey k -apiSecret s -users="$N" -existing=false -limit=false
for _ in $(seq 1 2400); do l=$(lag); [ "$l" = "0" ] && break; sleep 0.25; done
relayed=$(date +%s.%N)
curl -s -X POST "127.0.0.1:3031/campaigns/query?api_key=k" -H "Authorization: $TOKEN" -H 'Content-Type: application/json' \
	-d '{"filter":{}}' | python3 -c "
import json,sys,datetime
for c in json.load(sys.stdin)['campaigns']:
    st=c['stats']; s=datetime.datetime.fromisoformat(st['stats_started_at'].replace('Z','+00:00')).timestamp()
    e=datetime.datetime.fromisoformat(st['stats_completed_at'].replace('Z','+00:00')).timestamp()
    print(f\"{c['id']}: sent={st['stats_messages_sent']} send_time={e-s:.2f}s broker_has_all_after={$relayed-s:.2f}s ratio={($relayed-s)/(e-s):.3f}\")"
echo "records on campaignd.events: $(kcat -C -b 127.0.0.1:9093 -t campaignd.events -o beginning -e -q -f '%o\n' | wc -l)"
kill -TERM $CPID; wait $CPID
