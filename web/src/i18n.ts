// The page's words, in Vietnamese (the default) and English.

export type Lang = "vi" | "en";

const WORDS = {
  title: ["Trung tâm giám sát và điều hành thông minh — Lâm Đồng", "Lâm Đồng Intelligent Operations Centre"],
  connecting: ["Đang kết nối…", "Connecting…"],
  live: ["Trực tiếp", "Live"],
  offline: ["Mất kết nối — đang thử lại", "Disconnected — retrying"],
  unauthorised: ["Mã truy cập không hợp lệ", "Token refused"],
  logout: ["Đăng xuất", "Sign out"],
  loginTitle: ["Đăng nhập", "Sign in"],
  loginHelp: [
    "Dán mã truy cập (ioc tokens create --role …).",
    "Paste an access token (ioc tokens create --role …).",
  ],
  loginSubmit: ["Vào", "Enter"],
  province: ["Toàn tỉnh", "Province"],
  allDistricts: ["Mọi địa bàn", "All districts"],
  allStatuses: ["Mọi trạng thái", "All statuses"],
  allSeverities: ["Mọi mức độ", "All severities"],
  search: ["Tìm…", "Search…"],
  noIncidents: ["Không có sự cố nào", "No incidents"],
  more: ["Xem thêm", "More"],
  total: ["Tổng", "Total"],
  open: ["Mới", "Open"],
  acknowledged: ["Đã tiếp nhận", "Acknowledged"],
  resolved: ["Đã giải quyết", "Resolved"],
  auto_resolved: ["Tự kết thúc", "Cleared"],
  extreme: ["Cực kỳ nghiêm trọng", "Extreme"],
  severe: ["Nghiêm trọng", "Severe"],
  moderate: ["Trung bình", "Moderate"],
  minor: ["Nhẹ", "Minor"],
  acknowledge: ["Tiếp nhận", "Acknowledge"],
  resolve: ["Giải quyết", "Resolve"],
  note: ["Ghi chú", "Note"],
  close: ["Đóng", "Close"],
  history: ["Diễn biến", "Timeline"],
  evidence: ["Số liệu", "Evidence"],
  ackBy: ["Hạn tiếp nhận", "Acknowledge within"],
  overdue: ["Quá hạn", "Overdue"],
  escalated: ["Đã chuyển lên tỉnh", "Escalated to the province"],
  cap: ["Bản tin CAP", "CAP message"],
  seen: ["Thời gian", "Seen"],
  where: ["Địa bàn", "Where"],
  rule: ["Quy tắc", "Rule"],
  alerts: ["cảnh báo", "alerts"],
  readOnly: ["Chỉ xem", "Read only"],
  sensors: ["Cảm biến", "Sensors"],
  reloaded: ["Đã tải lại danh sách", "List reloaded"],
  failed: ["Không thực hiện được", "Failed"],
} as const;

export type Word = keyof typeof WORDS;

let current: Lang = (localStorage.getItem("ioc.lang") as Lang | null) ?? "vi";

export function lang(): Lang {
  return current;
}

export function setLang(next: Lang): void {
  current = next;
  localStorage.setItem("ioc.lang", next);
  document.documentElement.lang = next;
}

export function t(word: Word): string {
  return WORDS[word][current === "vi" ? 0 : 1];
}

export function text(value: { vi: string; en: string }): string {
  return current === "vi" ? value.vi : value.en;
}

export function when(iso: string): string {
  return new Date(iso).toLocaleString(current === "vi" ? "vi-VN" : "en-GB", {
    timeZone: "Asia/Ho_Chi_Minh",
    day: "2-digit",
    month: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}
