// Lean gRPC server, shutdown: the calls in flight, so those still open past the drain bound can be cut.

/** What the list needs of a call (lean-call.ts implements it): its links, and a way to cut it. */
export interface OpenCall {
  next: OpenCall | undefined;
  prev: OpenCall | undefined;
  cancel(): void;
}

/** The calls in flight (shutdown cuts those left): an intrusive list, so a call costs no allocation in it. */
export class OpenCalls {
  head: OpenCall | undefined;

  add(call: OpenCall): void {
    call.next = this.head;
    if (this.head) this.head.prev = call;
    this.head = call;
  }

  remove(call: OpenCall): void {
    if (call.prev) call.prev.next = call.next;
    else if (this.head === call) this.head = call.next;
    if (call.next) call.next.prev = call.prev;
    call.prev = call.next = undefined;
  }

  /** RST_STREAM CANCEL on every call still open. */
  cancelAll(): void {
    for (let call = this.head; call; ) {
      const next: OpenCall | undefined = call.next;
      call.cancel();
      call = next;
    }
  }
}
