// The console's page: sign in with a token, then the map, the list and the detail panel, kept
// live by the event stream. Deep links: #incident=ID. A link #token=… signs in and is dropped
// from the address at once.
import "@fontsource/noto-sans/latin-400.css";
import "@fontsource/noto-sans/latin-ext-400.css";
import "@fontsource/noto-sans/vietnamese-400.css";
import "./style.css";
import { Api, ApiError } from "./api";
import { DetailPanel } from "./detail";
import { background, byId } from "./dom";
import { lang, setLang, t } from "./i18n";
import { IncidentList } from "./list";
import { LiveStream, type ConnectionState } from "./live";
import { MapView, sensorsOf } from "./map";
import type { ConsoleConfig, FeatureCollection, Me, SensorStatus, ZoneProperties } from "./types";

const TOKEN_KEY = "ioc.token";

declare global {
  interface Window {
    ioc?: { map: MapView; list: IncidentList; state: () => ConnectionState };
  }
}

function takeToken(): string | null {
  const hash = new URLSearchParams(location.hash.slice(1));
  const fromLink = hash.get("token");
  if (fromLink) {
    sessionStorage.setItem(TOKEN_KEY, fromLink);
    hash.delete("token");
    const rest = hash.toString();
    history.replaceState(null, "", `${location.pathname}${location.search}${rest ? `#${rest}` : ""}`);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

function askForToken(message = ""): Promise<string> {
  const dialog = byId("login", HTMLDialogElement);
  byId("login-title").textContent = t("loginTitle");
  byId("login-help").textContent = t("loginHelp");
  byId("login-submit").textContent = t("loginSubmit");
  byId("login-error").textContent = message;
  const input = byId("login-token", HTMLInputElement);
  input.value = "";
  dialog.showModal();
  return new Promise((done) => {
    byId("login-form", HTMLFormElement).addEventListener(
      "submit",
      () => {
        const token = input.value.trim();
        sessionStorage.setItem(TOKEN_KEY, token);
        done(token);
      },
      { once: true },
    );
  });
}

async function signIn(): Promise<{ api: Api; me: Me }> {
  let token = takeToken();
  let message = "";
  for (;;) {
    if (!token) token = await askForToken(message);
    const api = new Api(token);
    try {
      return { api, me: await api.get<Me>("/api/me") };
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
      sessionStorage.removeItem(TOKEN_KEY);
      message = t("unauthorised");
      token = null;
    }
  }
}

function selectedFromHash(): string | null {
  return new URLSearchParams(location.hash.slice(1)).get("incident");
}

async function start(): Promise<void> {
  setLang(lang());
  const { api, me } = await signIn();
  const config = await api.get<ConsoleConfig>("/api/config");
  const connection = byId("connection");
  let state: ConnectionState = "connecting";
  const showState = (next: ConnectionState): void => {
    state = next;
    connection.dataset["state"] = next;
    connection.textContent = t(next);
  };
  const labels = (): void => {
    byId("title").textContent = t("title");
    byId("lang").textContent = lang() === "vi" ? "English" : "Tiếng Việt";
    byId("logout").textContent = t("logout");
    byId("who").textContent = `${me.name} · ${me.role}`;
    showState(state);
  };
  labels();

  const map = new MapView(byId("map"), config.basemap_style, { select: (id) => { location.hash = `incident=${id}`; } });
  const list = new IncidentList(api, config, (id) => { location.hash = `incident=${id}`; }, (incidents) => { map.replaceIncidents(incidents); });
  const detail = new DetailPanel(api, me, config, (incident) => { list.put(incident); map.putIncident(incident); }, () => { history.replaceState(null, "", location.pathname); list.selected = null; list.render(); });
  window.ioc = { map, list, state: () => state };

  const openFromHash = async (): Promise<void> => {
    const id = selectedFromHash();
    list.selected = id;
    list.render();
    if (!id) { detail.close(); return; }
    try {
      await detail.show(id);
      const incident = list.incidents.get(id);
      if (incident) map.focus(incident);
    } catch {
      detail.close();
    }
  };
  window.addEventListener("hashchange", () => { background(openFromHash(), "opening the incident"); });
  byId("lang").addEventListener("click", () => {
    setLang(lang() === "vi" ? "en" : "vi");
    labels();
    list.renderFilters();
    list.render();
    detail.render();
    background(list.reloadCounts(), "reloading the counts");
  });
  byId("logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    location.replace(location.pathname);
  });

  list.renderFilters();
  const [zones, sensors] = await Promise.all([
    api.get<FeatureCollection<ZoneProperties>>("/api/zones"),
    api.get<FeatureCollection<Omit<SensorStatus, "lat" | "lon">>>("/api/sensors"),
    list.reload(),
  ]);
  await map.setZones(zones);
  map.replaceSensors(sensorsOf(sensors));
  await openFromHash();

  let first = true;
  const live = new LiveStream(api.token, {
    incident: (incident) => {
      list.put(incident);
      map.putIncident(incident);
      background(detail.refresh(incident), "refreshing the incident");
    },
    sensors: (sensors) => { for (const sensor of sensors) map.putSensor(sensor); },
    reset: () => { background(list.reload(), "reloading the list"); },
    state: (next) => {
      // After a reconnection the list is reloaded: what changed meanwhile is not lost.
      if (next === "live" && !first) background(list.reload(), "reloading the list");
      if (next === "live") first = false;
      showState(next);
    },
  });
  live.start();
  document.body.dataset["ready"] = "true";
}

start().catch((e: unknown) => {
  // The page could not start (the console unreachable, an API error): said on the page.
  const connection = byId("connection");
  connection.dataset["state"] = "offline";
  connection.textContent = `${t("failed")}: ${e instanceof Error ? e.message : String(e)}`;
  console.error(e);
});
