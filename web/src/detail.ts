// One incident: its timeline, evidence, the acknowledgement deadline counting down, its CAP
// messages, and — for roles that may act — acknowledge and resolve with a note.
import { ApiError, type Api } from "./api";
import { background, byId, el } from "./dom";
import { t, text, when } from "./i18n";
import type { ActionOutcome, ConsoleConfig, Incident, IncidentDetail, Me } from "./types";

export class DetailPanel {
  private current: IncidentDetail | null = null;
  private timer: number | null = null;

  constructor(
    private readonly api: Api,
    private readonly me: Me,
    private readonly config: ConsoleConfig,
    private readonly onChanged: (incident: Incident) => void,
    private readonly onClose: () => void,
  ) {}

  get incidentId(): string | null {
    return this.current?.incident.incident_id ?? null;
  }

  async show(incidentId: string): Promise<void> {
    this.current = await this.api.get<IncidentDetail>(`/api/incidents/${encodeURIComponent(incidentId)}`);
    this.render();
  }

  /** A newer version from the live stream, of the incident shown. */
  async refresh(incident: Incident): Promise<void> {
    if (this.current?.incident.incident_id !== incident.incident_id) return;
    if (incident.version <= this.current.incident.version) return;
    await this.show(incident.incident_id);
  }

  close(): void {
    this.current = null;
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = null;
    const panel = byId("detail");
    panel.hidden = true;
    panel.replaceChildren();
  }

  render(): void {
    if (!this.current) return;
    const { incident: i, versions } = this.current;
    const panel = byId("detail");
    panel.hidden = false;
    panel.dataset["incidentId"] = i.incident_id;
    panel.dataset["status"] = i.status;
    const district = this.config.districts.find((d) => d.slug === i.district);
    const closeButton = el("button", { type: "button", class: "close", "aria-label": t("close") }, "×");
    closeButton.addEventListener("click", () => { this.close(); this.onClose(); });
    const deadline = el("p", { class: "deadline", id: "deadline" });
    const children: (Node | null)[] = [
      closeButton,
      el("h2", {}, el("span", { class: `severity sev-${i.severity}` }), text(i.title)),
      el(
        "p",
        { class: "facts" },
        `${t(i.severity)} · ${t(i.status)} · ${district ? text({ vi: district.name_vi, en: district.name_en }) : t("province")}`,
      ),
      i.escalated ? el("p", { class: "badge escalated" }, t("escalated")) : null,
      deadline,
      el("p", { class: "facts" }, `${t("seen")}: ${when(i.first_seen)} → ${when(i.last_seen)} · ${i.alert_count} ${t("alerts")}`),
      el("p", { class: "facts" }, `${t("rule")}: ${i.rule_id} · ${i.subject} · ${i.incident_id}`),
      this.actions(i),
      el("h3", {}, t("history")),
      el(
        "ol",
        { class: "timeline" },
        ...i.history.map((c) =>
          el("li", { "data-action": c.action }, `${when(c.at)} — ${c.action} → ${t(c.status)} · ${c.actor}${c.note ? ` — ${c.note}` : ""}`),
        ),
      ),
      el("h3", {}, t("evidence")),
      el(
        "table",
        { class: "evidence" },
        ...i.evidence.slice(-20).map((e) => el("tr", {}, el("td", {}, when(e.ts)), el("td", {}, e.sensor_id), el("td", {}, e.field), el("td", {}, String(e.value)))),
      ),
      el("h3", {}, t("cap")),
      el("p", { class: "cap" }, ...versions.map((v) => this.capLink(v.version, v.cap))),
    ];
    panel.replaceChildren(...children.filter((c): c is Node => c !== null));
    this.tick(i);
    if (this.timer !== null) window.clearInterval(this.timer);
    this.timer = window.setInterval(() => { this.tick(i); }, 1000);
  }

  private tick(i: Incident): void {
    const node = document.getElementById("deadline");
    if (!node) return;
    if (!i.ack_due || i.status !== "open") {
      node.textContent = "";
      return;
    }
    const left = Math.round((Date.parse(i.ack_due) - Date.now()) / 1000);
    const abs = Math.abs(left);
    const clock = `${Math.floor(abs / 60)}:${String(abs % 60).padStart(2, "0")}`;
    node.textContent = left >= 0 ? `${t("ackBy")}: ${clock}` : `${t("overdue")}: ${clock}`;
    node.classList.toggle("overdue", left < 0);
  }

  private capLink(version: number, path: string): HTMLButtonElement {
    // CAP needs the token: fetched, then opened from a blob URL.
    const button = el("button", { type: "button", class: "link", "data-cap-version": String(version) }, `v${version}`);
    button.addEventListener("click", () => {
      background(
        this.api.blob(path).then((blob) => {
          const url = URL.createObjectURL(new Blob([blob], { type: "text/xml" }));
          window.open(url, "_blank", "noopener");
          window.setTimeout(() => { URL.revokeObjectURL(url); }, 60_000);
        }),
        "opening the CAP message",
      );
    });
    return button;
  }

  private actions(i: Incident): HTMLElement | null {
    if (!this.me.may_act) return el("p", { class: "read-only" }, t("readOnly"));
    const canAck = i.status === "open";
    const canResolve = i.status === "open" || i.status === "acknowledged";
    if (!canAck && !canResolve) return null;
    const note = el("textarea", { id: "action-note", rows: "2", maxlength: "2000", placeholder: t("note"), "aria-label": t("note") });
    const error = el("p", { class: "error", role: "alert", id: "action-error" });
    const box = el("div", { class: "actions" }, note);
    const act = (action: "acknowledge" | "resolve"): HTMLButtonElement => {
      const button = el("button", { type: "button", id: `action-${action}`, class: "action" }, t(action));
      button.addEventListener("click", () => {
        for (const b of box.querySelectorAll("button")) b.disabled = true;
        error.textContent = "";
        const body = note.value.trim() ? { note: note.value.trim() } : {};
        this.api
          .post<ActionOutcome>(`/api/incidents/${encodeURIComponent(i.incident_id)}/${action}`, body)
          .then((outcome) => {
            this.onChanged(outcome.incident);
            return this.show(i.incident_id);
          })
          .catch((e: unknown) => {
            error.textContent = `${t("failed")}: ${e instanceof ApiError ? e.message : String(e)}`;
            for (const b of box.querySelectorAll("button")) b.disabled = false;
          });
      });
      return button;
    };
    if (canAck) box.append(act("acknowledge"));
    if (canResolve) box.append(act("resolve"));
    box.append(error);
    return box;
  }
}
