// The CounterStore contract on the in-process store (embedded mode, no Redis).

import { MemoryCounterStore } from '../../src/counters/memory-counter-store.js';
import { describeCounterStore } from '../contracts/counter-store.contract.js';
import { describeReservations } from '../contracts/reservation.contract.js';

describeCounterStore('memory', async (clock) => new MemoryCounterStore({ now: clock.now }));

describeReservations('memory', async (clock) => new MemoryCounterStore({ now: clock.now }));
