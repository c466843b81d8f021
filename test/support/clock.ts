import type { Clock } from '../../functions/core/clock';

/** A clock the test sets by hand (`clock.current = …`), for driving schedulers tick by tick. */
export class ManualClock implements Clock {
  constructor(public current: Date) {}
  now() {
    return new Date(this.current);
  }
}
