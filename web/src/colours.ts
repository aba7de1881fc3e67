// Colours of the map and the list: by severity (worst first), by sensor status, and the
// official VN_AQI band colours, which come with each station's status from the API.
import type { SensorState, Severity } from "./types";

export const SEVERITY_RANK: Record<Severity, number> = { minor: 1, moderate: 2, severe: 3, extreme: 4 };

export const SEVERITY_COLOUR: Record<Severity, string> = {
  extreme: "#b10026",
  severe: "#f03b20",
  moderate: "#fd8d3c",
  minor: "#6baed6",
};

/** By rank, for map expressions: index 0 is unused. */
export const RANK_COLOUR = ["#888888", "#6baed6", "#fd8d3c", "#f03b20", "#b10026"];

export const SENSOR_COLOUR: Record<SensorState, string> = {
  ok: "#41ab5d",
  offline: "#737373",
  implausible: "#9e4fd1",
};
