// Options shared by the shipped scripts: a closed loop of VUS, or a constant RATE per second,
// for DURATION, with the policy's k6 THRESHOLDS.
export function options(name, defaultVus) {
  const rate = Number(__ENV.RATE || 0);
  const vus = Number(__ENV.VUS || defaultVus);
  const duration = __ENV.DURATION || "10s";
  return {
    summaryTrendStats: ["avg", "med", "p(90)", "p(95)", "p(99)", "max"],
    scenarios: {
      [name]: rate > 0
        ? { executor: "constant-arrival-rate", rate, timeUnit: "1s", duration, preAllocatedVUs: vus, maxVUs: vus * 4 }
        : { executor: "constant-vus", vus, duration },
    },
    thresholds: JSON.parse(__ENV.THRESHOLDS || "{}"),
  };
}

export function summary(data) {
  return { [__ENV.SUMMARY]: JSON.stringify(data) };
}
