/**
 * The canvas that holds a {@link GraphRenderer}, created once per mount.
 *
 * @packageDocumentation
 */
import { useEffect, useRef } from 'preact/hooks';
import { GraphRenderer } from '../graph/renderer.js';

/** The graph canvas; `onRenderer` gets the renderer once it exists, `onSelect` a clicked node's id. */
export function GraphCanvas({ onRenderer, onSelect }: { onRenderer: (renderer: GraphRenderer | undefined) => void; onSelect: (id: string | undefined) => void }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const select = useRef(onSelect);
  select.current = onSelect;
  useEffect(() => {
    const renderer = new GraphRenderer(canvas.current!, (id) => select.current(id));
    onRenderer(renderer);
    return () => {
      onRenderer(undefined);
      renderer.dispose();
    };
  }, []);
  return <canvas ref={canvas} class="graph-canvas" aria-label="run graph" />;
}
