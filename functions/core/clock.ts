/** Logic never calls new Date() itself: time comes in through this port (or with the event). */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
