// Engine events (docker events): emitted by the backend where the change happens, kept in a
// bounded ring for `since`, fanned out to live subscribers.
import { EventEmitter } from 'node:events';

export type EventType = 'container' | 'image' | 'volume' | 'network' | 'daemon' | 'plugin' | 'builder';

export interface EngineEvent {
  Type: EventType;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  /** Legacy fields (API < 1.22 shapes, still sent by dockerd for containers and images). */
  status?: string;
  id?: string;
  from?: string;
}

/** Where past events are kept (the events table); without one, a bounded ring in memory. */
export interface EventLog {
  append(ev: EngineEvent): void;
  since(timeNano: number): EngineEvent[];
}

const RING = 1024;

class MemoryLog implements EventLog {
  private readonly ring: EngineEvent[] = [];
  append(ev: EngineEvent): void {
    this.ring.push(ev);
    if (this.ring.length > RING) this.ring.shift();
  }
  since(timeNano: number): EngineEvent[] {
    return this.ring.filter((e) => e.timeNano >= timeNano);
  }
}

export class EventBus {
  private readonly emitter = new EventEmitter();
  private lastNano = 0;

  constructor(private readonly log: EventLog = new MemoryLog()) {
    this.emitter.setMaxListeners(0);
  }

  emit(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    // nanoseconds since the epoch, strictly increasing so `since` never splits a burst
    let nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
    if (Number(nowNs) <= this.lastNano) nowNs = BigInt(this.lastNano + 1000); // a double keeps ~256 ns here
    this.lastNano = Number(nowNs);
    const ev: EngineEvent = {
      Type: type,
      Action: action,
      Actor: { ID: id, Attributes: attributes },
      scope: 'local',
      time: Number(nowNs / 1_000_000_000n),
      timeNano: Number(nowNs),
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (type === 'container' && attributes.image) ev.from = attributes.image;
    }
    this.log.append(ev);
    this.emitter.emit('event', ev);
    return ev;
  }

  /** Events already emitted with timeNano >= sinceNano (for `docker events --since`). */
  past(sinceNano: number): EngineEvent[] {
    return this.log.since(sinceNano);
  }

  subscribe(listener: (ev: EngineEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
