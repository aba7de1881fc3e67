// The province on a map: zones, incidents clustered with their worst severity, sensors by
// status (air stations in their VN_AQI colour), drawn by MapLibre from GeoJSON sources with
// data expressions — no DOM element per marker, so tens of thousands of points stay smooth.
import "maplibre-gl/dist/maplibre-gl.css";
import notoLatin from "@fontsource/noto-sans/files/noto-sans-latin-400-normal.woff2?url";
import notoLatinExt from "@fontsource/noto-sans/files/noto-sans-latin-ext-400-normal.woff2?url";
import notoVietnamese from "@fontsource/noto-sans/files/noto-sans-vietnamese-400-normal.woff2?url";
import * as maplibregl from "maplibre-gl";
import workerUrl from "maplibre-gl/dist/maplibre-gl-worker.mjs?url";
import type { GeoJSONSource, MapGeoJSONFeature, MapLayerMouseEvent, StyleSpecification } from "maplibre-gl";
import { RANK_COLOUR, SENSOR_COLOUR, SEVERITY_RANK } from "./colours";
import type { Feature, FeatureCollection, Incident, SensorStatus, ZoneProperties } from "./types";

const FONT = "Noto Sans Regular";
// The page's own font files draw the map's labels: no glyph server, no internet.
const FONT_FACES = {
  [FONT]: [
    { url: notoLatin, "unicode-range": ["U+0000-00FF", "U+0131", "U+0152-0153", "U+02BB-02BC", "U+02C6", "U+02DA", "U+02DC", "U+2000-206F", "U+20AC", "U+2122", "U+2191", "U+2193", "U+2212", "U+2215", "U+FEFF", "U+FFFD"] },
    { url: notoVietnamese, "unicode-range": ["U+0102-0103", "U+0110-0111", "U+0128-0129", "U+0168-0169", "U+01A0-01A1", "U+01AF-01B0", "U+0300-0301", "U+0303-0304", "U+0308-0309", "U+0323", "U+0329", "U+1EA0-1EF9", "U+20AB"] },
    { url: notoLatinExt, "unicode-range": ["U+0100-02AF", "U+0304", "U+0308", "U+0329", "U+1E00-1E9F", "U+1EF2-1EFF", "U+2020", "U+20A0-20AB", "U+20AD-20C0", "U+2113", "U+2C60-2C7F", "U+A720-A7FF"] },
  ],
};
const CENTRE: [number, number] = [108.0, 11.75];
const UPDATE_EVERY_MS = 1000;
const EMPTY: FeatureCollection<Record<string, unknown>> = { type: "FeatureCollection", features: [] };

export interface MapCallbacks {
  select(incidentId: string): void;
}

// Bundled, MapLibre cannot find its worker beside itself: it is served from the page's assets.
maplibregl.setWorkerUrl(workerUrl);

function plainStyle(): StyleSpecification {
  return {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#0f1b26" } }],
  };
}

export class MapView {
  readonly map: maplibregl.Map;
  private incidents = new Map<string, Incident>();
  private sensors = new Map<string, SensorStatus>();
  private dirty = { incidents: false, sensors: false };
  private ready: Promise<void>;

  constructor(container: HTMLElement, basemap: string | null, private readonly callbacks: MapCallbacks) {
    this.map = new maplibregl.Map({
      container,
      style: basemap ?? plainStyle(),
      center: CENTRE,
      zoom: 7.6,
      attributionControl: false,
      // Tests read the canvas; a wall screen reloads it rarely: the cost is small.
      canvasContextAttributes: { preserveDrawingBuffer: true },
    });
    this.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
    this.map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
    this.ready = new Promise((done) => {
      this.map.once("load", () => {
        this.map.setFontFaces(FONT_FACES);
        this.addLayers();
        done();
      });
    });
    setInterval(() => { this.flush(); }, UPDATE_EVERY_MS);
  }

  whenReady(): Promise<void> {
    return this.ready;
  }

  async setZones(zones: FeatureCollection<ZoneProperties>): Promise<void> {
    await this.ready;
    void this.source("zones").setData(zones);
    const box = new maplibregl.LngLatBounds();
    for (const zone of zones.features) {
      if (zone.properties.kind !== "district" && zone.properties.kind !== "province") continue;
      forEachPosition(zone.geometry, (p) => box.extend(p));
    }
    if (!box.isEmpty()) this.map.fitBounds(box, { padding: 30, animate: false });
  }

  putIncident(incident: Incident): void {
    const known = this.incidents.get(incident.incident_id);
    if (known && known.version >= incident.version) return;
    this.incidents.set(incident.incident_id, incident);
    this.dirty.incidents = true;
  }

  replaceIncidents(incidents: Incident[]): void {
    this.incidents = new Map(incidents.map((i) => [i.incident_id, i]));
    this.dirty.incidents = true;
  }

  putSensor(sensor: SensorStatus): void {
    this.sensors.set(sensor.sensor_id, sensor);
    this.dirty.sensors = true;
  }

  replaceSensors(sensors: SensorStatus[]): void {
    this.sensors = new Map(sensors.map((s) => [s.sensor_id, s]));
    this.dirty.sensors = true;
  }

  focus(incident: Incident): void {
    const [lon, lat] = centre(incident);
    this.map.easeTo({ center: [lon, lat], zoom: Math.max(this.map.getZoom(), 11) });
  }

  /** Sources are rebuilt at most once a second, however many events arrive. */
  private flush(): void {
    if (!this.map.loaded() && !this.map.isStyleLoaded()) return;
    if (this.dirty.incidents) {
      this.dirty.incidents = false;
      void this.source("incidents").setData(incidentFeatures([...this.incidents.values()]));
    }
    if (this.dirty.sensors) {
      this.dirty.sensors = false;
      void this.source("sensors").setData(sensorFeatures([...this.sensors.values()]));
    }
  }

  private source(id: string): GeoJSONSource {
    const source = this.map.getSource<GeoJSONSource>(id);
    if (!source) throw new Error(`no source ${id}`);
    return source;
  }

  private addLayers(): void {
    const map = this.map;
    map.addSource("zones", { type: "geojson", data: EMPTY as GeoJSON.FeatureCollection });
    map.addSource("incidents", {
      type: "geojson",
      data: EMPTY as GeoJSON.FeatureCollection,
      cluster: true,
      clusterRadius: 40,
      clusterMaxZoom: 13,
      clusterProperties: { worst: ["max", ["get", "rank"]], active: ["+", ["get", "active"]] },
    });
    map.addSource("sensors", {
      type: "geojson",
      data: EMPTY as GeoJSON.FeatureCollection,
      cluster: true,
      clusterRadius: 30,
      clusterMaxZoom: 12,
      clusterProperties: { offline: ["+", ["case", ["==", ["get", "status"], "offline"], 1, 0]] },
    });
    const isKind = (...kinds: string[]): maplibregl.ExpressionSpecification => ["in", ["get", "kind"], ["literal", kinds]];
    map.addLayer({ id: "province-fill", type: "fill", source: "zones", filter: isKind("province"), paint: { "fill-color": "#16293a" } });
    map.addLayer({
      id: "special-zones",
      type: "fill",
      source: "zones",
      filter: ["!", isKind("province", "district", "ward")],
      paint: {
        "fill-color": ["match", ["get", "kind"], "restricted", "#d7301f", "flood", "#2b8cbe", "school", "#fec44f", "low_emission", "#31a354", "#9e9ac8"],
        "fill-opacity": ["case", ["get", "active"], 0.35, 0.08],
      },
    });
    map.addLayer({
      id: "special-zone-lines",
      type: "line",
      source: "zones",
      filter: ["!", isKind("province", "district", "ward")],
      paint: { "line-color": ["case", ["get", "active"], "#ff6b5b", "#7a8a99"], "line-width": 1, "line-dasharray": [2, 2] },
    });
    map.addLayer({ id: "district-lines", type: "line", source: "zones", filter: isKind("district"), paint: { "line-color": "#7fb3d5", "line-width": 1.5 } });
    map.addLayer({ id: "province-line", type: "line", source: "zones", filter: isKind("province"), paint: { "line-color": "#d6eaf8", "line-width": 2.5 } });
    map.addLayer({
      id: "district-labels",
      type: "symbol",
      source: "zones",
      filter: isKind("district"),
      layout: { "text-field": ["get", "name"], "text-font": [FONT], "text-size": 13 },
      paint: { "text-color": "#d6eaf8", "text-halo-color": "#0f1b26", "text-halo-width": 1.5 },
    });
    map.addLayer({
      id: "sensor-clusters",
      type: "circle",
      source: "sensors",
      filter: ["has", "point_count"],
      paint: {
        "circle-color": "#2c3e50",
        "circle-radius": ["step", ["get", "point_count"], 10, 50, 14, 500, 18, 5000, 24],
        "circle-stroke-color": ["case", [">", ["get", "offline"], 0], SENSOR_COLOUR.offline, SENSOR_COLOUR.ok],
        "circle-stroke-width": 2,
        "circle-opacity": 0.8,
      },
    });
    map.addLayer({
      id: "sensor-cluster-counts",
      type: "symbol",
      source: "sensors",
      filter: ["has", "point_count"],
      layout: { "text-field": ["get", "point_count_abbreviated"], "text-font": [FONT], "text-size": 10 },
      paint: { "text-color": "#bdc3c7" },
    });
    map.addLayer({
      id: "sensors",
      type: "circle",
      source: "sensors",
      filter: ["!", ["has", "point_count"]],
      paint: {
        "circle-color": ["get", "colour"],
        "circle-radius": ["case", ["==", ["get", "kind"], "environment"], 6, 4],
        "circle-stroke-color": "#0f1b26",
        "circle-stroke-width": 1,
      },
    });
    const rankColour: maplibregl.ExpressionSpecification = [
      "match", ["get", "worst"], 4, RANK_COLOUR[4] ?? "", 3, RANK_COLOUR[3] ?? "", 2, RANK_COLOUR[2] ?? "", RANK_COLOUR[1] ?? "",
    ];
    map.addLayer({
      id: "incident-clusters",
      type: "circle",
      source: "incidents",
      filter: ["has", "point_count"],
      paint: {
        "circle-color": rankColour,
        "circle-radius": ["step", ["get", "point_count"], 14, 10, 18, 100, 24, 1000, 30],
        "circle-stroke-color": "#ffffff",
        "circle-stroke-width": 2,
      },
    });
    map.addLayer({
      id: "incident-cluster-counts",
      type: "symbol",
      source: "incidents",
      filter: ["has", "point_count"],
      layout: { "text-field": ["get", "point_count_abbreviated"], "text-font": [FONT], "text-size": 13, "text-allow-overlap": true },
      paint: { "text-color": "#ffffff" },
    });
    map.addLayer({
      id: "incidents",
      type: "circle",
      source: "incidents",
      filter: ["!", ["has", "point_count"]],
      paint: {
        "circle-color": ["get", "colour"],
        "circle-radius": ["case", ["==", ["get", "active"], 1], 9, 5],
        "circle-opacity": ["case", ["==", ["get", "active"], 1], 1, 0.45],
        "circle-stroke-color": ["case", ["get", "escalated"], "#ffff00", "#ffffff"],
        "circle-stroke-width": ["case", ["get", "escalated"], 3, 1.5],
      },
    });
    map.on("click", "incidents", (e: MapLayerMouseEvent) => {
      const id: unknown = e.features?.[0]?.properties["incident_id"];
      if (typeof id === "string") this.callbacks.select(id);
    });
    map.on("click", "incident-clusters", (e: MapLayerMouseEvent) => { void this.zoomInto(e.features?.[0]); });
    for (const layer of ["incidents", "incident-clusters"]) {
      map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
      map.on("mouseleave", layer, () => { map.getCanvas().style.cursor = ""; });
    }
  }

  private async zoomInto(feature: MapGeoJSONFeature | undefined): Promise<void> {
    if (!feature || feature.geometry.type !== "Point") return;
    const clusterId = feature.properties["cluster_id"] as number;
    const zoom = await this.source("incidents").getClusterExpansionZoom(clusterId);
    this.map.easeTo({ center: feature.geometry.coordinates as [number, number], zoom });
  }
}

function centre(incident: Incident): [number, number] {
  const location = incident.location;
  if (location.type === "Point") return location.coordinates;
  const ring = location.coordinates[0] ?? [];
  const lon = ring.reduce((sum, p) => sum + p[0], 0) / Math.max(ring.length, 1);
  const lat = ring.reduce((sum, p) => sum + p[1], 0) / Math.max(ring.length, 1);
  return [lon, lat];
}

function incidentFeatures(incidents: Incident[]): GeoJSON.FeatureCollection {
  return {
    type: "FeatureCollection",
    features: incidents.map((i) => ({
      type: "Feature",
      id: i.incident_id,
      geometry: { type: "Point", coordinates: centre(i) },
      properties: {
        incident_id: i.incident_id,
        severity: i.severity,
        rank: SEVERITY_RANK[i.severity],
        colour: RANK_COLOUR[SEVERITY_RANK[i.severity]] ?? "#888888",
        active: i.status === "open" || i.status === "acknowledged" ? 1 : 0,
        status: i.status,
        escalated: i.escalated,
        district: i.district ?? "province",
      },
    })),
  };
}

function sensorFeatures(sensors: SensorStatus[]): GeoJSON.FeatureCollection {
  return {
    type: "FeatureCollection",
    features: sensors.map((s) => ({
      type: "Feature",
      id: s.sensor_id,
      geometry: { type: "Point", coordinates: [s.lon, s.lat] },
      properties: {
        sensor_id: s.sensor_id,
        kind: s.kind,
        status: s.status,
        colour: s.status === "ok" && s.aqi ? `rgb(${s.aqi.rgb.join(",")})` : SENSOR_COLOUR[s.status],
      },
    })),
  };
}

export function sensorsOf(collection: FeatureCollection<Omit<SensorStatus, "lat" | "lon">>): SensorStatus[] {
  return collection.features.map((f: Feature<Omit<SensorStatus, "lat" | "lon">>) => {
    const [lon, lat] = (f.geometry as GeoJSON.Point).coordinates as [number, number];
    return { ...f.properties, lon, lat };
  });
}

function forEachPosition(geometry: GeoJSON.Geometry, visit: (p: [number, number]) => void): void {
  if (geometry.type === "Polygon") for (const ring of geometry.coordinates) for (const p of ring) visit(p as [number, number]);
  else if (geometry.type === "MultiPolygon") for (const poly of geometry.coordinates) for (const ring of poly) for (const p of ring) visit(p as [number, number]);
}
