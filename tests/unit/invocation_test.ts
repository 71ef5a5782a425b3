import assert from "node:assert/strict";
import { invocationEndpoint, type RunBounds } from "../../lib/runtime/invocation.ts";
import { createLogger, registerSecret } from "../../lib/runtime/log.ts";
import { NonRetriableError } from "../../lib/runtime/non_retriable_error.ts";
import { RetriesExhausted } from "../../lib/runtime/retry.ts";

const log = createLogger("test", "error");
const post = (query = "") => new Request(`http://x/run${query}`, { method: "POST" });
const totals = { recordsIn: 3, recordsOut: { out: 3 }, deadLetters: 0 };

Deno.test("POST /run: bounds parsed, bad ones a 400 naming them, GET a 405", async () => {
  const seen: RunBounds[] = [];
  const run = invocationEndpoint("w", log, (b) => {
    seen.push(b);
    return Promise.resolve(totals);
  });
  const ok = await run(post("?max_records=10&until=2020-01-03T00:00:00Z&from=2020-01-02"));
  assert.equal(ok.status, 200);
  assert.deepEqual(seen[0], {
    maxRecords: 10,
    until: new Date("2020-01-03T00:00:00Z"),
    from: new Date("2020-01-02"),
  });
  const body = await ok.json();
  assert.equal(body.recordsIn, 3);
  assert.equal(body.status, "ok");
  for (
    const q of [
      "?max_records=0",
      "?max_records=x",
      "?until=soon",
      "?from=2020-02-01&until=2020-01-01",
    ]
  ) {
    const res = await run(post(q));
    assert.equal(res.status, 400, q);
    assert.equal(res.headers.get("content-type"), "application/problem+json");
  }
  assert.equal((await run(new Request("http://x/run"))).status, 405);
  assert.equal(seen.length, 1, "only the good request ran");
});

Deno.test("POST /run: one at a time (409 with the running one's start), then free again", async () => {
  let release = () => {};
  const run = invocationEndpoint(
    "w",
    log,
    () => new Promise((resolve) => (release = () => resolve(totals))),
  );
  const first = run(post());
  const second = await run(post());
  assert.equal(second.status, 409);
  const problem = await second.json();
  assert.ok(Date.parse(problem.runningSince) > 0);
  release();
  assert.equal((await first).status, 200);
  const third = run(post());
  release();
  assert.equal((await third).status, 200);
});

Deno.test("POST /run: retries exhausted → 503, a final error → 500, secrets masked", async () => {
  registerSecret("hunter2-secret");
  const failing = (error: Error) => invocationEndpoint("w", log, () => Promise.reject(error));
  const exhausted = await failing(
    new RetriesExhausted("batch t[0] 0-9", 3, new Error("password hunter2-secret refused")),
  )(post());
  assert.equal(exhausted.status, 503);
  const body = await exhausted.json();
  assert.match(body.detail, /failed after 3 attempts/);
  assert.doesNotMatch(body.detail, /hunter2-secret/);
  assert.equal((await failing(new NonRetriableError("bad schema"))(post())).status, 500);
});

Deno.test("POST /run before the worker is connected: 503 problem+json, and no run starts", async () => {
  let runs = 0;
  let ready = false;
  const run = invocationEndpoint("w", log, () => {
    runs++;
    return Promise.resolve({ recordsIn: 0, recordsOut: {}, deadLetters: 0 });
  }, () => ready);
  const refused = await run(post());
  assert.equal(refused.status, 503);
  assert.equal(refused.headers.get("content-type"), "application/problem+json");
  assert.equal((await refused.json()).title, "not connected yet");
  assert.equal(runs, 0);
  ready = true;
  assert.equal((await run(post())).status, 200);
  assert.equal(runs, 1);
});
