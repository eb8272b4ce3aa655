// Shows whether the daemon answers; the full status page comes with the runner.
(async () => {
  const el = document.getElementById("health");
  try {
    const r = await fetch("/healthz");
    const j = await r.json();
    el.textContent = `Daemon is up (version ${j.data.version}).`;
    el.className = "ok";
  } catch (e) {
    el.textContent = "The daemon does not answer.";
    el.className = "bad";
  }
})();
