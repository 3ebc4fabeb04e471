// Filter the questions of the landing and practice pages by part and level.
// Items carry the classes nnfaq-item nnfaq-part-<part> nnfaq-level-<level>; groups (parts, topic
// cards) are hidden when none of their items is shown. The choice is kept in the URL (?part=&level=).
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector(".nnfaq-filters");
  if (!form) return;
  const selects = [...form.querySelectorAll("select[data-filter]")];
  const count = form.querySelector(".nnfaq-count");
  const items = [...document.querySelectorAll(".nnfaq-item")];
  const params = new URLSearchParams(window.location.search);
  for (const s of selects) s.value = params.get(s.dataset.filter) || "";
  function apply() {
    const want = Object.fromEntries(selects.map((s) => [s.dataset.filter, s.value]));
    let shown = 0;
    for (const item of items) {
      const ok = Object.entries(want).every(([k, v]) => !v || item.classList.contains(`nnfaq-${k}-${v}`));
      item.hidden = !ok;
      shown += ok;
    }
    for (const group of document.querySelectorAll(".nnfaq-group")) {
      const visible = [...group.querySelectorAll(".nnfaq-item")].some((i) => !i.hidden);
      group.hidden = !visible;
      group.closest(".sd-col")?.toggleAttribute("hidden", !visible);
    }
    count.textContent = `${shown} of ${items.length} questions`;
    const query = new URLSearchParams(Object.entries(want).filter(([, v]) => v));
    const url = query.toString() ? `?${query}` : window.location.pathname;
    window.history.replaceState(null, "", url + window.location.hash);
  }
  for (const s of selects) s.addEventListener("change", apply);
  apply();
});
