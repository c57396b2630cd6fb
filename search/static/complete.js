// Search as you type: the box's suggestions come from /api/complete (vnsearch's own words,
// diacritics optional: "thu tuo" -> "Thủ tướng"). The page works without this script.
(() => {
  const box = document.querySelector("form.search input[name=q]");
  const list = document.getElementById("completions");
  if (!box || !list || !window.fetch) return;
  let timer = null;
  let asked = "";
  box.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = box.value;
      if (!q.trim() || q === asked) return;
      asked = q;
      try {
        const answer = await fetch("/api/complete?" + new URLSearchParams({ q, limit: "8" }));
        if (!answer.ok || box.value !== q) return;  // a newer text is being typed
        const { completions } = await answer.json();
        list.replaceChildren(...completions.map((c) => Object.assign(document.createElement("option"), { value: c.text })));
      } catch (error) {
        // No suggestions: the box still searches.
      }
    }, 120);
  });
})();
