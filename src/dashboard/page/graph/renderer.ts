/**
 * Draws a laid-out run graph on a canvas (one canvas, not one element per
 * node): only what is in view, nodes batched by colour, details (names, states,
 * activation counts, input mappings on links) only when zoomed in enough to
 * read them. Pan with the pointer, zoom with the wheel, click to select.
 * Redraws at most once a frame, when something changed.
 *
 * @packageDocumentation
 */
import { NODE_HEIGHT, NODE_WIDTH, bounds, forEachNodeIn, nodeAt, type Layout } from './layout.js';
import type { GraphLooks, NodeLook, ScopeBox } from './looks.js';
import { STATE_COLOURS, type ShownState } from './palette.js';

/** Border and label colour of a subflow's box. */
const SCOPE_COLOUR = '#64748b';

/** Scale under which names are not drawn. */
const TEXT_SCALE = 0.45;
/** Scale under which link labels are not drawn. */
const LABEL_SCALE = 0.8;

/** The canvas graph view: give it a layout and the looks of its nodes; it calls `onSelect` on clicks. */
export class GraphRenderer {
  private layout: Layout | undefined;
  private looks: NodeLook[] = [];
  private labels: Array<string | undefined> = [];
  private blockedEdges = new Set<number>();
  private scopes: ScopeBox[] = [];
  private selected: number | undefined;
  private scale = 1;
  private tx = 0;
  private ty = 0;
  private frame = 0;
  private readonly resize: ResizeObserver;
  private readonly context: CanvasRenderingContext2D;
  private readonly detach: () => void;

  /** Draws on `canvas`; `onSelect` gets the clicked node's id (undefined: a click on nothing). */
  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly onSelect: (id: string | undefined) => void,
  ) {
    const context = canvas.getContext('2d');
    if (context === null) throw new Error('no 2D canvas context');
    this.context = context;
    this.resize = new ResizeObserver(() => this.invalidate());
    this.resize.observe(canvas);
    this.detach = this.listen();
  }

  /** Sets the graph: its layout, each node's look (by layout index), each link's label (by layout edge index), its subflows' boxes. */
  setGraph(layout: Layout, looks: GraphLooks): void {
    const first = this.layout === undefined;
    this.layout = layout;
    this.looks = looks.looks;
    this.labels = looks.labels;
    this.blockedEdges = looks.blockedEdges;
    this.scopes = looks.scopes;
    if (first) this.fit();
    this.invalidate();
  }

  /** Changes one node's look (a state change pushed by the server). */
  setLook(index: number, look: NodeLook): void {
    this.looks[index] = look;
    this.invalidate();
  }

  /** Outlines the selected node. */
  select(id: string | undefined): void {
    this.selected = id === undefined ? undefined : this.layout?.index.get(id);
    this.invalidate();
  }

  /** Zooms to show the whole graph (not larger than 1:1). */
  fit(): void {
    if (this.layout === undefined) return;
    const box = bounds(this.layout);
    const { width, height } = this.canvas.getBoundingClientRect();
    const margin = 24;
    this.scale = Math.min(1, (width - 2 * margin) / Math.max(1, box.right - box.left), (height - 2 * margin) / Math.max(1, box.bottom - box.top));
    if (!(this.scale > 0)) this.scale = 1;
    this.tx = (width - (box.right - box.left) * this.scale) / 2 - box.left * this.scale;
    this.ty = (height - (box.bottom - box.top) * this.scale) / 2 - box.top * this.scale;
    this.invalidate();
  }

  /** Zooms by `factor` around the canvas's center (the + and − buttons). */
  zoomBy(factor: number): void {
    const { width, height } = this.canvas.getBoundingClientRect();
    this.zoomAt(width / 2, height / 2, factor);
  }

  private zoomAt(px: number, py: number, factor: number): void {
    const scale = Math.min(4, Math.max(0.01, this.scale * factor));
    this.tx = px - ((px - this.tx) * scale) / this.scale;
    this.ty = py - ((py - this.ty) * scale) / this.scale;
    this.scale = scale;
    this.invalidate();
  }

  /** Centers a node at a readable zoom. */
  focus(id: string): void {
    const v = this.layout?.index.get(id);
    if (this.layout === undefined || v === undefined) return;
    const { width, height } = this.canvas.getBoundingClientRect();
    this.scale = Math.max(this.scale, 1);
    this.tx = width / 2 - (this.layout.x[v]! + NODE_WIDTH / 2) * this.scale;
    this.ty = height / 2 - (this.layout.y[v]! + NODE_HEIGHT / 2) * this.scale;
    this.invalidate();
  }

  /** Where a node's center is on the page (client pixels), if it is in the graph: for tests that click it. */
  clientPoint(id: string): { x: number; y: number } | undefined {
    const v = this.layout?.index.get(id);
    if (this.layout === undefined || v === undefined) return undefined;
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + this.tx + (this.layout.x[v]! + NODE_WIDTH / 2) * this.scale, y: rect.top + this.ty + (this.layout.y[v]! + NODE_HEIGHT / 2) * this.scale };
  }

  /** Stops listening and drawing. */
  dispose(): void {
    cancelAnimationFrame(this.frame);
    this.resize.disconnect();
    this.detach();
  }

  /** Asks for a redraw at the next frame. */
  invalidate(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private listen(): () => void {
    const canvas = this.canvas;
    let drag: { x: number; y: number; moved: boolean } | undefined;
    const down = (e: PointerEvent): void => {
      drag = { x: e.clientX, y: e.clientY, moved: false };
      canvas.setPointerCapture(e.pointerId);
    };
    const move = (e: PointerEvent): void => {
      if (drag === undefined) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      drag.moved = true;
      this.tx += dx;
      this.ty += dy;
      drag.x = e.clientX;
      drag.y = e.clientY;
      this.invalidate();
    };
    const up = (e: PointerEvent): void => {
      if (drag !== undefined && !drag.moved && this.layout !== undefined) {
        const rect = canvas.getBoundingClientRect();
        const v = nodeAt(this.layout, (e.clientX - rect.left - this.tx) / this.scale, (e.clientY - rect.top - this.ty) / this.scale);
        this.onSelect(v === undefined ? undefined : this.layout.ids[v]);
      }
      drag = undefined;
    };
    const wheel = (e: WheelEvent): void => {
      e.preventDefault();
      const rect = canvas.getBoundingClientRect();
      this.zoomAt(e.clientX - rect.left, e.clientY - rect.top, Math.exp(-e.deltaY * 0.0015));
    };
    canvas.addEventListener('pointerdown', down);
    canvas.addEventListener('pointermove', move);
    canvas.addEventListener('pointerup', up);
    canvas.addEventListener('wheel', wheel, { passive: false });
    return () => {
      canvas.removeEventListener('pointerdown', down);
      canvas.removeEventListener('pointermove', move);
      canvas.removeEventListener('pointerup', up);
      canvas.removeEventListener('wheel', wheel);
    };
  }

  private draw(): void {
    const { canvas, context: ctx, layout } = this;
    const dpr = window.devicePixelRatio || 1;
    const { width, height } = canvas.getBoundingClientRect();
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (layout === undefined) return;
    ctx.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.tx, dpr * this.ty);
    const view = { left: -this.tx / this.scale, top: -this.ty / this.scale, right: (width - this.tx) / this.scale, bottom: (height - this.ty) / this.scale };
    this.drawScopes(layout);
    const labels = this.drawEdges(layout, view);
    const visible: number[] = [];
    forEachNodeIn(layout, view.left, view.top, view.right, view.bottom, (v) => visible.push(v));
    this.drawNodes(layout, visible);
    this.drawLabels(labels);
  }

  /** Draws each subflow as a box around its nodes (a nested one inside its parent's), its id at the top left. */
  private drawScopes(layout: Layout): void {
    const ctx = this.context;
    for (const scope of this.scopes) {
      const pad = 12 + 6 * (3 - Math.min(3, scope.id.split('/').length));
      let [left, top, right, bottom] = [Infinity, Infinity, -Infinity, -Infinity];
      for (const v of scope.members) {
        left = Math.min(left, layout.x[v]!);
        top = Math.min(top, layout.y[v]!);
        right = Math.max(right, layout.x[v]! + NODE_WIDTH);
        bottom = Math.max(bottom, layout.y[v]! + NODE_HEIGHT);
      }
      if (left === Infinity) continue;
      ctx.setLineDash([6, 4]);
      ctx.strokeStyle = SCOPE_COLOUR;
      ctx.lineWidth = 1;
      ctx.strokeRect(left - pad, top - pad - 14, right - left + 2 * pad, bottom - top + 2 * pad + 14);
      ctx.setLineDash([]);
      ctx.fillStyle = SCOPE_COLOUR;
      ctx.font = '11px system-ui, sans-serif';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'middle';
      ctx.fillText(`${scope.id}/`, left - pad + 6, top - pad - 4);
    }
  }

  /** Draws the links in view; returns the labels to draw once the nodes are. */
  private drawEdges(layout: Layout, view: { left: number; top: number; right: number; bottom: number }): Array<{ x: number; y: number; text: string }> {
    const ctx = this.context;
    const detailed = this.scale >= TEXT_SCALE;
    const plain = new Path2D();
    const blocked = new Path2D();
    const labelled: Array<{ x: number; y: number; text: string }> = [];
    layout.edges.forEach((edge, e) => {
      const x1 = layout.x[edge.from]! + NODE_WIDTH;
      const y1 = layout.y[edge.from]! + NODE_HEIGHT / 2;
      const x2 = layout.x[edge.to]!;
      const y2 = layout.y[edge.to]! + NODE_HEIGHT / 2;
      if (Math.max(x1, x2) < view.left || Math.min(x1, x2) > view.right || Math.max(y1, y2) < view.top || Math.min(y1, y2) > view.bottom) return;
      const path = this.blockedEdges.has(e) ? blocked : plain;
      path.moveTo(x1, y1);
      if (!detailed) path.lineTo(x2, y2);
      else if (x2 > x1) {
        const bend = Math.max(40, (x2 - x1) / 2);
        path.bezierCurveTo(x1 + bend, y1, x2 - bend, y2, x2, y2);
      } else path.bezierCurveTo(x1 + 60, y1 + NODE_HEIGHT * 1.5, x2 - 60, y2 + NODE_HEIGHT * 1.5, x2, y2); // back to an earlier layer (a cycle): below
      const text = this.labels[e];
      if (text !== undefined && this.scale >= LABEL_SCALE) labelled.push({ x: (x1 + x2) / 2, y: (y1 + y2) / 2, text });
    });
    ctx.lineWidth = 1.2 / Math.min(1, this.scale);
    ctx.strokeStyle = '#94a3b8';
    ctx.stroke(plain);
    ctx.lineWidth = 3 / Math.min(1, this.scale);
    ctx.strokeStyle = '#dc2626';
    ctx.stroke(blocked);
    return labelled;
  }

  /** Draws link labels (over the nodes, to stay readable). */
  private drawLabels(labelled: Array<{ x: number; y: number; text: string }>): void {
    const ctx = this.context;
    ctx.font = '10px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const label of labelled) {
      const w = ctx.measureText(label.text).width + 8;
      ctx.fillStyle = 'rgba(255,255,255,0.9)';
      ctx.fillRect(label.x - w / 2, label.y - 8, w, 16);
      ctx.fillStyle = '#475569';
      ctx.fillText(label.text, label.x, label.y);
    }
  }

  private drawNodes(layout: Layout, visible: number[]): void {
    const ctx = this.context;
    const detailed = this.scale >= TEXT_SCALE;
    const byState = new Map<ShownState, Path2D>();
    for (const v of visible) {
      const look = this.looks[v];
      const state = look?.state ?? 'waiting';
      let path = byState.get(state);
      if (path === undefined) byState.set(state, (path = new Path2D()));
      if (detailed) path.roundRect(layout.x[v]!, layout.y[v]!, NODE_WIDTH, NODE_HEIGHT, look?.kind === 'event' ? NODE_HEIGHT / 2 : 6);
      else path.rect(layout.x[v]!, layout.y[v]!, NODE_WIDTH, NODE_HEIGHT);
    }
    for (const [state, path] of byState) {
      ctx.fillStyle = STATE_COLOURS[state];
      ctx.fill(path);
    }
    if (!detailed) {
      this.outlineMarked(layout, visible);
      return;
    }
    ctx.lineWidth = 1;
    ctx.strokeStyle = '#475569';
    for (const [, path] of byState) ctx.stroke(path);
    this.outlineMarked(layout, visible);
    ctx.textBaseline = 'middle';
    for (const v of visible) {
      const look = this.looks[v];
      if (look === undefined) continue;
      const x = layout.x[v]!;
      const y = layout.y[v]!;
      if (look.kind === 'event' || look.persistent) {
        ctx.save();
        ctx.strokeStyle = '#0f172a';
        if (look.kind === 'event') ctx.setLineDash([5, 3]);
        const inset = look.persistent ? 3 : 0;
        ctx.beginPath();
        ctx.roundRect(x + inset, y + inset, NODE_WIDTH - 2 * inset, NODE_HEIGHT - 2 * inset, look.kind === 'event' ? NODE_HEIGHT / 2 - inset : 4);
        ctx.stroke();
        ctx.restore();
      }
      ctx.fillStyle = '#0f172a';
      ctx.textAlign = 'left';
      ctx.font = '600 12px system-ui, sans-serif';
      ctx.fillText(look.kind === 'event' ? `⚡ ${look.name}` : look.name, x + 10, y + 14, NODE_WIDTH - 20);
      ctx.font = '10px system-ui, sans-serif';
      ctx.fillStyle = '#334155';
      ctx.fillText(layout.ids[v] === look.name ? look.state : `${layout.ids[v]} · ${look.state}`, x + 10, y + 29, NODE_WIDTH - 50);
      if (look.badge !== undefined) {
        ctx.textAlign = 'right';
        ctx.font = '600 10px system-ui, sans-serif';
        ctx.fillText(look.badge, x + NODE_WIDTH - 8, y + 29);
      }
    }
  }

  private outlineMarked(layout: Layout, visible: number[]): void {
    const ctx = this.context;
    const px = 1 / this.scale;
    for (const v of visible) {
      const mark = this.looks[v]?.mark;
      const selected = v === this.selected;
      if (mark === undefined && !selected) continue;
      ctx.save();
      ctx.lineWidth = (selected ? 3 : 2.5) * Math.max(1, px);
      ctx.strokeStyle = selected ? '#1d4ed8' : mark === 'blocked' ? '#dc2626' : '#7c3aed';
      if (mark === 'new' && !selected) ctx.setLineDash([6 * px, 4 * px]);
      ctx.strokeRect(layout.x[v]! - 3, layout.y[v]! - 3, NODE_WIDTH + 6, NODE_HEIGHT + 6);
      ctx.restore();
    }
  }
}
