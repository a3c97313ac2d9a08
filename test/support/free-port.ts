// A loopback port nobody listens on right now, for servers a test starts as processes.
//
// The port is drawn below the kernel's ephemeral range (32768 and up on Linux). A port the OS hands
// out for listen(0) comes from that range, and so does the local port of every outgoing connection:
// between the probe closing and the child binding, another test's client socket could take it, and
// the child would fail with "already in use". Below 32768 only another listener can take it, and
// ports handed out in this process are never handed out twice.

import { createServer } from 'node:net';

const FROM = 10_000;
const TO = 17_000; // redis-server.ts draws from 17000 up
const given = new Set<number>();

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = FROM + Math.floor(Math.random() * (TO - FROM));
    if (given.has(port)) continue;
    if (await isFree(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free loopback port in ${FROM}..${TO}`);
}
