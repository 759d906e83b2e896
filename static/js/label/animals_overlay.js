// Every animal of a label in its colour (skeleton and a ring around its points), the current
// one drawn last and at full strength, each tagged with its track (labeling and review pages).

import { instanceColor } from "./instances.js";
import { drawInstanceTag, drawPoint, drawSkeleton } from "./overlay.js";

export function drawAnimalSet(ctx, view, { animals, parts, edges, active, showNames }) {
  const order = animals.list.map((_, k) => k).filter((k) => k !== animals.current);
  for (const k of [...order, animals.current]) {
    const { set, track } = animals.list[k];
    const current = k === animals.current;
    const color = instanceColor(k);
    const alpha = current ? 1 : 0.6;
    drawSkeleton(ctx, view, edges, set.byName(), { color, alpha: current ? 0.95 : 0.5 });
    let first = null;
    parts.forEach((part, i) => {
      if (!set.isPlaced(i)) return;
      first ??= set.at(i);
      const isActive = current && i === active;
      const name = current && (showNames || isActive) ? part.name : "";
      drawPoint(ctx, view, set.at(i), part.color, { active: isActive, name, ring: color, alpha });
    });
    if (first) drawInstanceTag(ctx, view, first, track || `animal ${k + 1}`, color, { alpha });
  }
}
