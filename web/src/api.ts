// Calls to the console's API with the operator's token; errors are its problem documents.
import type { Problem } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
  ) {
    super(problem?.detail ?? problem?.title ?? `HTTP ${status}`);
  }
}

export type Params = Record<string, string | number | readonly string[] | undefined>;

export class Api {
  constructor(readonly token: string) {}

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { Authorization: `Bearer ${this.token}`, ...extra };
  }

  async get<T>(path: string, params: Params = {}): Promise<T> {
    return this.request<T>("GET", withParams(path, params));
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, JSON.stringify(body));
  }

  /** The body of a resource that is not JSON (a CAP message), as a blob. */
  async blob(path: string): Promise<Blob> {
    const response = await fetch(path, { headers: this.headers() });
    if (!response.ok) throw await problemOf(response);
    return response.blob();
  }

  private async request<T>(method: string, path: string, body?: string): Promise<T> {
    const init: RequestInit = {
      method,
      headers: this.headers(body === undefined ? {} : { "Content-Type": "application/json" }),
    };
    if (body !== undefined) init.body = body;
    const response = await fetch(path, init);
    if (!response.ok) throw await problemOf(response);
    return (await response.json()) as T;
  }
}

function withParams(path: string, params: Params): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === "") continue;
    if (typeof value === "string" || typeof value === "number") query.append(key, String(value));
    else for (const one of value) query.append(key, one);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function problemOf(response: Response): Promise<ApiError> {
  let problem: Problem | null;
  try {
    problem = (await response.json()) as Problem;
  } catch {
    problem = null;
  }
  return new ApiError(response.status, problem);
}
