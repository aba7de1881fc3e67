// The console's live events (Server-Sent Events) read with fetch, so that the token travels
// in the Authorization header and not in a URL. Reconnects after a drop or a console restart,
// resuming from the last event's id.
import type { Incident, SensorStatus } from "./types";

export type ConnectionState = "connecting" | "live" | "offline" | "unauthorised";

export interface LiveHandlers {
  incident(incident: Incident): void;
  sensors(sensors: SensorStatus[]): void;
  reset(): void;
  state(state: ConnectionState): void;
}

const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 10_000;

export class LiveStream {
  private lastEventId: string | null = null;
  private stopped = false;
  private controller: AbortController | null = null;

  constructor(
    private readonly token: string,
    private readonly handlers: LiveHandlers,
  ) {}

  start(): void {
    void this.run();
  }

  isStopped(): boolean {
    return this.stopped;
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }

  private async run(): Promise<void> {
    let retry = MIN_RETRY_MS;
    while (!this.stopped) {
      this.handlers.state("connecting");
      try {
        const refused = await this.read();
        if (refused) {
          this.handlers.state("unauthorised");
          return;
        }
        retry = MIN_RETRY_MS;
      } catch {
        // A drop, a restart, a proxy timeout: shown, then retried.
      }
      if (this.isStopped()) return;
      this.handlers.state("offline");
      await new Promise((done) => setTimeout(done, retry));
      retry = Math.min(MAX_RETRY_MS, retry * 2);
    }
  }

  /** One connection, until it ends; true when the token was refused. */
  private async read(): Promise<boolean> {
    this.controller = new AbortController();
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.token}`,
      Accept: "text/event-stream",
    };
    if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
    const response = await fetch("/api/events", { headers, signal: this.controller.signal, cache: "no-store" });
    if (response.status === 401) return true;
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let carry = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return false;
      // Lines may end in CRLF, LF or CR (the SSE format allows all three); a CR that ends a
      // chunk waits for the next, which may start with its LF.
      let chunk = carry + value;
      carry = chunk.endsWith("\r") ? "\r" : "";
      if (carry) chunk = chunk.slice(0, -1);
      buffer += chunk.replace(/\r\n?/g, "\n");
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        this.dispatch(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
      }
    }
  }

  private dispatch(block: string): void {
    let kind = "message";
    let id: string | null = null;
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") kind = value;
      else if (field === "id") id = value;
      else if (field === "data") data.push(value);
    }
    if (id !== null) this.lastEventId = id;
    if (data.length === 0) return;
    const payload: unknown = JSON.parse(data.join("\n"));
    if (kind === "hello") this.handlers.state("live");
    else if (kind === "incident") this.handlers.incident(payload as Incident);
    else if (kind === "sensors") this.handlers.sensors(payload as SensorStatus[]);
    else if (kind === "reset") this.handlers.reset();
    else if (kind === "revoked") {
      this.stopped = true;
      this.handlers.state("unauthorised");
    }
  }
}
