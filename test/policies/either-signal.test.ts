/** `eitherSignal`: aborts with whichever input aborts first, and lets go of both when disposed. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { eitherSignal } from "../../src/clock.js";

describe("eitherSignal", () => {
  test("aborts with the first input's reason", () => {
    const first = new AbortController();
    const second = new AbortController();
    const { signal } = eitherSignal(first.signal, second.signal);
    assert.equal(signal.aborted, false);
    first.abort(new Error("first"));
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as Error).message, "first");
    second.abort(new Error("second"));
    assert.equal((signal.reason as Error).message, "first", "the first reason stays");
  });

  test("aborts with the second input's reason", () => {
    const first = new AbortController();
    const second = new AbortController();
    const { signal } = eitherSignal(first.signal, second.signal);
    second.abort(new Error("second"));
    assert.equal((signal.reason as Error).message, "second");
  });

  test("is aborted at once when an input already is", () => {
    const first = new AbortController();
    const second = new AbortController();
    second.abort(new Error("already"));
    const { signal } = eitherSignal(first.signal, second.signal);
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as Error).message, "already");
  });

  test("once disposed it no longer follows its inputs", () => {
    const first = new AbortController();
    const second = new AbortController();
    const { signal, dispose } = eitherSignal(first.signal, second.signal);
    dispose();
    first.abort(new Error("late"));
    assert.equal(signal.aborted, false);
  });
});
