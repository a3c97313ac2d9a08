// Metering seam: a reservation taken at the gate is settled once the call's actual units are known.
//
// The gate answers an allowed call on a metered endpoint with the reservation id in the
// RESERVATION_HEADER request header it adds upstream. Whoever learns the real count (the app through
// POST /internal/usage/settle, the CLI or admin API) settles it here.

/** The request header the gate adds upstream on an allowed metered call. */
export const RESERVATION_HEADER = 'x-tollgate-reservation';

export type SettleResult =
  /** Applied now: the reserved units were replaced by `units` (refund or extra debit). */
  | { outcome: 'settled'; reserved: number; units: number }
  /** This reservation was settled (or cancelled, or expired at its reserved amount) before: nothing changed. */
  | { outcome: 'already_settled' }
  /** No such reservation (malformed id, or never issued). */
  | { outcome: 'unknown' };

export interface ReservationSettler {
  /**
   * Settles `reservation` at `units` actual units, or at the reserved amount when `units` is null
   * (the count could not be read). Idempotent per reservation; atomic in the counter store.
   * Throws StoreUnavailable when the store does not answer.
   */
  settle(reservation: string, units: number | null): Promise<SettleResult>;
}

export interface OpenReservation {
  id: string;
  endpoint: string;
  /** Units reserved at the gate. */
  units: number;
  /** ms since the epoch after which it stands at `units`. */
  expiresAtMs: number;
}

export interface ReservationStore extends ReservationSettler {
  /** The account's reservations not yet settled nor expired, oldest expiry first. */
  openReservations(accountId: string): Promise<OpenReservation[]>;
}

/** The largest actual count one settle may report: far beyond any call, inside Lua's exact integers. */
export const MAX_SETTLE_UNITS = 1_000_000_000;
