// One GET, in a closed loop (VUS, DURATION) or at a constant rate (RATE, DURATION).
// Results go out through handleSummary (not --summary-export, whose threshold flags are inverted).
import http from "k6/http";
import { check } from "k6";

const mode = __ENV.MODE || "closed";
export const options = {
  discardResponseBodies: true,
  scenarios: mode === "closed"
    ? { closed: { executor: "constant-vus", vus: Number(__ENV.VUS || 200), duration: __ENV.DURATION || "10s" } }
    : { open: { executor: "constant-arrival-rate", rate: Number(__ENV.RATE || 1000), timeUnit: "1s",
                duration: __ENV.DURATION || "10s", preAllocatedVUs: 200, maxVUs: 600 } },
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

const params = __ENV.KEY ? { headers: { Authorization: `Bearer ${__ENV.KEY}` } } : {};

export default function () {
  const res = http.get(__ENV.URL, params);
  check(res, { "status 200": (r) => r.status === 200 });
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
