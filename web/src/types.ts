// The API's shapes, as the console's OpenAPI document gives them (only what the page reads).

export type Severity = "extreme" | "severe" | "moderate" | "minor";
export type IncidentStatus = "open" | "acknowledged" | "resolved" | "auto_resolved";
export type SensorState = "ok" | "offline" | "implausible";

export interface Text {
  vi: string;
  en: string;
}

export interface StatusChange {
  at: string;
  version: number;
  status: IncidentStatus;
  actor: string;
  action: string;
  note?: string | null;
}

export interface Evidence {
  sensor_id: string;
  field: string;
  value: number | string | null;
  ts: string;
}

export interface Incident {
  incident_id: string;
  version: number;
  status: IncidentStatus;
  severity: Severity;
  category: string;
  title: Text;
  rule_id: string;
  subject: string;
  district: string | null;
  escalated: boolean;
  ack_due: string | null;
  zones: string[];
  location: { type: "Point"; coordinates: [number, number] } | { type: "Polygon"; coordinates: [number, number][][] };
  first_seen: string;
  last_seen: string;
  alert_count: number;
  evidence: Evidence[];
  history: StatusChange[];
}

export interface IncidentPage {
  incidents: Incident[];
  next_cursor: string | null;
}

export interface VersionLink {
  version: number;
  status: IncidentStatus;
  at: string;
  cap: string;
}

export interface IncidentDetail {
  incident: Incident;
  versions: VersionLink[];
}

export interface ActionOutcome {
  outcome: "acknowledged" | "resolved";
  incident: Incident;
}

export interface Counts {
  total: number;
  by_district: Record<string, number>;
  by_severity: Record<string, number>;
  by_status: Record<string, number>;
}

export interface AqiBand {
  aqi: number;
  dominant: string;
  name_vi: string;
  name_en: string;
  colour: string;
  rgb: [number, number, number];
}

export interface SensorStatus {
  sensor_id: string;
  kind: "traffic" | "camera" | "environment";
  source_id: string;
  district: string | null;
  zones: string[];
  lat: number;
  lon: number;
  status: SensorState;
  reason: string | null;
  last_seen: string;
  values: Record<string, number | string | boolean>;
  aqi: AqiBand | null;
}

export interface Feature<P> {
  type: "Feature";
  id: string;
  geometry: GeoJSON.Geometry;
  properties: P;
}

export interface FeatureCollection<P> {
  type: "FeatureCollection";
  features: Feature<P>[];
  complete?: boolean;
}

export interface ZoneProperties {
  id: string;
  kind: string;
  name: string;
  name_en: string | null;
  district: string | null;
  scheduled: boolean;
  active: boolean;
}

export interface Me {
  name: string;
  role: string;
  district: string | null;
  may_act: boolean;
}

export interface DistrictInfo {
  slug: string;
  name_vi: string;
  name_en: string;
}

export interface ConsoleConfig {
  version: string;
  districts: DistrictInfo[];
  severities: Severity[];
  basemap_style: string | null;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
}
