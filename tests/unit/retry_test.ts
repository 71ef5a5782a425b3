import assert from "node:assert/strict";
import { NonRetriableError } from "../../lib/runtime/non_retriable_error.ts";
import { RetriesExhausted, retry } from "../../lib/runtime/retry.ts";

Deno.test("retry: an abort during the backoff wait makes no further attempt", async () => {
  const stop = new AbortController();
  let calls = 0;
  const failing = retry(() => {
    calls++;
    return Promise.reject(new Error("store down"));
  }, {
    attempts: 10,
    baseMs: 60_000,
    maxMs: 60_000,
    signal: stop.signal,
    onRetry: () => setTimeout(() => stop.abort(), 5),
  }, "writing");
  await assert.rejects(failing, RetriesExhausted);
  assert.equal(calls, 1);
});

Deno.test("retry: a NonRetriableError, or an error caused by one, is never retried", async () => {
  for (
    const error of [
      new NonRetriableError("bad password"),
      new Error("wrapped", { cause: new NonRetriableError("not authorized") }),
    ]
  ) {
    let calls = 0;
    await assert.rejects(
      retry(() => {
        calls++;
        return Promise.reject(error);
      }, { attempts: 5, baseMs: 1 }),
      (e) => e === error,
    );
    assert.equal(calls, 1);
  }
});

Deno.test("retry: retriable failures are tried again until one succeeds", async () => {
  let calls = 0;
  const value = await retry(() => {
    calls++;
    return calls < 3 ? Promise.reject(new Error("leader not available")) : Promise.resolve(42);
  }, { attempts: 5, baseMs: 1 });
  assert.deepEqual([value, calls], [42, 3]);
});

Deno.test("Kafka errors: credentials, authorisation and settings are final; leaders, coordinators and networks are not", async () => {
  const { kafkaErrorIsFinal } = await import("../../lib/connectors/kafka/mod.ts");
  const protocol = (type: string, message: string) =>
    Object.assign(new Error(message), { name: "KafkaJSProtocolError", type });
  for (
    const e of [
      protocol("SASL_AUTHENTICATION_FAILED", "SASL SCRAM SHA512 authentication failed"),
      protocol("TOPIC_AUTHORIZATION_FAILED", "Not authorized to access topics"),
      protocol("GROUP_AUTHORIZATION_FAILED", "Not authorized to access group"),
      protocol("INVALID_CONFIG", "Configuration is invalid"),
      Object.assign(new Error("Authentication failed"), { name: "KafkaJSSASLAuthenticationError" }),
      new Error("retries exhausted", { cause: protocol("CLUSTER_AUTHORIZATION_FAILED", "x") }),
    ]
  ) assert.equal(kafkaErrorIsFinal(e), true, e.message);
  for (
    const e of [
      protocol("UNKNOWN_TOPIC_OR_PARTITION", "This server does not host this topic-partition"),
      protocol("LEADER_NOT_AVAILABLE", "There is no leader for this topic-partition"),
      protocol("NOT_LEADER_FOR_PARTITION", "This server is not the leader"),
      protocol("COORDINATOR_LOAD_IN_PROGRESS", "The coordinator is loading"),
      protocol("COORDINATOR_NOT_AVAILABLE", "The coordinator is not available"),
      protocol("REBALANCE_IN_PROGRESS", "The group is rebalancing"),
      protocol("REQUEST_TIMED_OUT", "The request timed out"),
      Object.assign(new Error("Connection error: ECONNREFUSED"), {
        name: "KafkaJSConnectionError",
      }),
      new Error("retries exhausted", { cause: protocol("LEADER_NOT_AVAILABLE", "no leader") }),
    ]
  ) assert.equal(kafkaErrorIsFinal(e), false, e.message);
});
