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

const RING = 1024;

export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly ring: EngineEvent[] = [];

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  emit(type: EventType, action: string, id: string, attributes: Record<string, string> = {}): EngineEvent {
    const nowNs = BigInt(Date.now()) * 1_000_000n + process.hrtime.bigint() % 1_000_000n;
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
    this.ring.push(ev);
    if (this.ring.length > RING) this.ring.shift();
    this.emitter.emit('event', ev);
    return ev;
  }

  /** Events already emitted with timeNano >= sinceNano (for `docker events --since`). */
  past(sinceNano: number): EngineEvent[] {
    return this.ring.filter((e) => e.timeNano >= sinceNano);
  }

  subscribe(listener: (ev: EngineEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
