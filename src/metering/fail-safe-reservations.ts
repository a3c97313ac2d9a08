// Reservations under FAILURE_MODE=local: a call decided while Redis was away reserved in this
// replica's memory, so its settle is tried there first; every other id is Redis'.

import type { OpenReservation, ReservationStore, SettleResult } from './reservation-settler.js';

export function failSafeReservations(shared: ReservationStore, local?: ReservationStore): ReservationStore {
  if (!local) return shared;
  return {
    async settle(reservation: string, units: number | null): Promise<SettleResult> {
      const here = await local.settle(reservation, units);
      return here.outcome === 'unknown' ? shared.settle(reservation, units) : here;
    },
    async openReservations(accountId: string): Promise<OpenReservation[]> {
      const [a, b] = await Promise.all([
        local.openReservations(accountId),
        shared.openReservations(accountId),
      ]);
      return [...a, ...b].sort((x, y) => x.expiresAtMs - y.expiresAtMs);
    },
  };
}
