// The incident list beside the map: filters, counts per district, newest first, kept live.
import type { Api } from "./api";
import { background, byId, el } from "./dom";
import { t, text, when, type Word } from "./i18n";
import type { ConsoleConfig, Counts, Incident, IncidentPage } from "./types";

export interface Filters {
  district: string;
  status: string;
  severity: string;
  q: string;
}

const PAGE = 200;
const STATUSES = ["open", "acknowledged", "resolved", "auto_resolved"] as const;

export class IncidentList {
  readonly incidents = new Map<string, Incident>();
  filters: Filters = { district: "", status: "", severity: "", q: "" };
  selected: string | null = null;
  private countsTimer: number | null = null;

  constructor(
    private readonly api: Api,
    private readonly config: ConsoleConfig,
    private readonly onSelect: (id: string) => void,
    private readonly onChange: (incidents: Incident[]) => void,
  ) {}

  renderFilters(): void {
    const form = byId("filters", HTMLFormElement);
    form.replaceChildren();
    const select = (name: keyof Filters, all: Word, options: [string, string][]): HTMLSelectElement => {
      const node = el("select", { name, "aria-label": t(all) }, el("option", { value: "" }, t(all)));
      for (const [value, label] of options) node.append(el("option", { value }, label));
      node.value = this.filters[name];
      node.addEventListener("change", () => { this.filters[name] = node.value; background(this.reload(), "reloading the list"); });
      return node;
    };
    const districts: [string, string][] = this.config.districts.map((d) => [d.slug, text({ vi: d.name_vi, en: d.name_en })]);
    if (this.config.districts.length > 1) districts.push(["province", t("province")]);
    form.append(
      select("district", "allDistricts", districts),
      select("status", "allStatuses", STATUSES.map((s) => [s, t(s)])),
      select("severity", "allSeverities", this.config.severities.map((s) => [s, t(s)])),
    );
    const search = el("input", { type: "search", name: "q", placeholder: t("search"), "aria-label": t("search") });
    search.value = this.filters.q;
    let typing: number | undefined;
    search.addEventListener("input", () => {
      window.clearTimeout(typing);
      typing = window.setTimeout(() => { this.filters.q = search.value.trim(); background(this.reload(), "reloading the list"); }, 300);
    });
    form.append(search);
    form.addEventListener("submit", (e) => { e.preventDefault(); });
  }

  private params(): Record<string, string> {
    const { district, status, severity, q } = this.filters;
    return { district, status, severity, q };
  }

  async reload(): Promise<void> {
    const page = await this.api.get<IncidentPage>("/api/incidents", { ...this.params(), limit: PAGE });
    this.incidents.clear();
    for (const incident of page.incidents) this.incidents.set(incident.incident_id, incident);
    this.render();
    await this.reloadCounts();
  }

  /** A version from the live stream: shown if it matches the filters, kept in order. */
  put(incident: Incident): void {
    const known = this.incidents.get(incident.incident_id);
    if (known && known.version >= incident.version) return;
    if (this.matches(incident)) this.incidents.set(incident.incident_id, incident);
    else this.incidents.delete(incident.incident_id);
    this.render();
    this.scheduleCounts();
  }

  private matches(i: Incident): boolean {
    const f = this.filters;
    if (f.district && (i.district ?? "province") !== f.district) return false;
    if (f.status && i.status !== f.status) return false;
    if (f.severity && i.severity !== f.severity) return false;
    if (f.q) {
      const q = f.q.toLowerCase();
      const hay = [i.title.vi, i.title.en, i.subject, i.incident_id].join(" ").toLowerCase();
      if (!hay.includes(q)) return false;
    }
    return true;
  }

  private scheduleCounts(): void {
    if (this.countsTimer !== null) return;
    this.countsTimer = window.setTimeout(() => {
      this.countsTimer = null;
      background(this.reloadCounts(), "reloading the counts");
    }, 1000);
  }

  async reloadCounts(): Promise<void> {
    const counts = await this.api.get<Counts>("/api/counts", { status: ["open", "acknowledged"] });
    const box = byId("counts");
    box.replaceChildren(el("span", { class: "count total" }, `${t("total")}: ${counts.total}`));
    for (const d of this.config.districts) {
      const n = counts.by_district[d.slug] ?? 0;
      const chip = el("button", { type: "button", class: "count", "data-district": d.slug }, `${text({ vi: d.name_vi, en: d.name_en })} ${n}`);
      chip.addEventListener("click", () => { this.filters.district = d.slug; this.renderFilters(); background(this.reload(), "reloading the list"); });
      box.append(chip);
    }
  }

  render(): void {
    const list = byId("list");
    const sorted = [...this.incidents.values()].sort((a, b) =>
      a.last_seen < b.last_seen ? 1 : a.last_seen > b.last_seen ? -1 : a.incident_id < b.incident_id ? 1 : -1,
    );
    if (sorted.length === 0) {
      list.replaceChildren(el("li", { class: "empty" }, t("noIncidents")));
    } else {
      list.replaceChildren(...sorted.map((i) => this.item(i)));
    }
    this.onChange(sorted);
  }

  private item(i: Incident): HTMLLIElement {
    const district = this.config.districts.find((d) => d.slug === i.district);
    const where = district ? text({ vi: district.name_vi, en: district.name_en }) : t("province");
    const item = el(
      "li",
      {
        class: `incident status-${i.status}${i.incident_id === this.selected ? " selected" : ""}`,
        "data-incident-id": i.incident_id,
        "data-status": i.status,
        "data-district": i.district ?? "province",
        tabindex: "0",
      },
      el("span", { class: `severity sev-${i.severity}`, title: t(i.severity) }),
      el("span", { class: "title" }, text(i.title)),
      el("span", { class: "meta" }, `${where} · ${t(i.status)} · ${when(i.last_seen)}`),
      i.escalated ? el("span", { class: "badge escalated" }, t("escalated")) : null,
    );
    const open = (): void => { this.onSelect(i.incident_id); };
    item.addEventListener("click", open);
    item.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
    return item;
  }
}
