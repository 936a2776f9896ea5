/**
 * The probe client of `bench/abuse.ts`, in a process of its own so that its round trips measure the
 * server, not the harness: the harness's own loops (64 connections × 3,072 one-byte writes block its
 * event loop for about 300 ms) would otherwise count in a probe that was waiting for a reply meanwhile.
 *
 * Forked with `PORT REQUEST DONE_REGEXP WELCOME(0|1)`. Sends one request at a time (10 ms apart) on one
 * connection and keeps the worst round trip. Messages: → `{ replies }` after each reply; ← `'reset'`
 * (forget the warm-up), ← `'stop'` → `{ worst, replies }` (a reply still awaited counts), then exits.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { setTimeout } from 'node:timers';

const [port, request, doneSource, welcome] = process.argv.slice(2);
const done = new RegExp(doneSource);
const socket = connect({ port: Number(port), host: '127.0.0.1' });
socket.on('error', () => {});
let text = '';
let sentAt = 0;
let worst = 0;
let replies = 0;
let waiting = false;
let stopped = false;
let greeted = welcome !== '1';

function send() {
  if (stopped || socket.destroyed) return;
  text = '';
  sentAt = performance.now();
  waiting = true;
  socket.write(request);
}

socket.on('data', (chunk) => {
  if (!greeted) {
    greeted = true;
    send();
    return;
  }
  text += chunk.toString('latin1');
  if (!waiting || !done.test(text)) return;
  waiting = false;
  replies++;
  worst = Math.max(worst, performance.now() - sentAt);
  process.send({ replies });
  setTimeout(send, 10);
});
socket.on('connect', () => {
  if (greeted) send();
});
process.on('message', (message) => {
  if (message === 'reset') {
    worst = 0;
    replies = 0;
  } else if (message === 'stop') {
    stopped = true;
    if (waiting) worst = Math.max(worst, performance.now() - sentAt);
    socket.destroy();
    process.send({ worst, replies }, () => process.exit(0));
  }
});
