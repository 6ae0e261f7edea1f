// Shared by the conformance tests: the official client pointed at the gateway, the fixtures' expected
// results, and the fake upstream's request record.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import OpenAI from 'openai';
import { DEFAULT_FIXTURES } from '../fake-upstream.mjs';

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the suite through conformance/run.sh`);
  return value.replace(/\/+$/, '');
}

/** The gateway's OpenAI base URL, e.g. http://127.0.0.1:PORT/v1. */
export const GATEWAY = required('SLUICE_BASE_URL');
/** The fake upstream's root URL (its record lives under /__fake/). */
export const FAKE = required('FAKE_UPSTREAM_URL');
export const FIXTURES = path.resolve(process.env.SLUICE_FIXTURES ?? DEFAULT_FIXTURES);

/** The official client as a user would build it; no retries unless a test asks for them. */
export function client(options = {}) {
  return new OpenAI({ baseURL: GATEWAY, apiKey: 'sk-conformance', maxRetries: 0, timeout: 30_000, ...options });
}

/** The `expected` object a fixture's .json holds. */
export function expected(name) {
  return JSON.parse(fs.readFileSync(path.join(FIXTURES, `${name}.json`), 'utf8')).expected;
}

/** A fresh tag to find one request again in the fake upstream's record. */
export function tag() {
  return randomUUID().slice(0, 8);
}

export async function fakeRequests(t) {
  const res = await fetch(`${FAKE}/__fake/requests${t ? `?tag=${encodeURIComponent(t)}` : ''}`);
  return res.json();
}

/** Waits (up to timeoutMs) until the fake upstream saw the connection of the request tagged `t` closed. */
export async function waitUpstreamClosed(t, timeoutMs) {
  const res = await fetch(`${FAKE}/__fake/wait-closed?tag=${encodeURIComponent(t)}&timeout_ms=${timeoutMs}`);
  return res.json();
}

/** Waits until the fake upstream has received a request tagged `t`. */
export async function waitUpstreamReceived(t, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = await fakeRequests(t);
    if (records.length > 0 || Date.now() > deadline) return records;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const USER = [{ role: 'user', content: 'Say something.' }];

/** Runs fn and returns what it threw (failing if it did not throw). */
export async function thrown(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error, but the call succeeded');
}
