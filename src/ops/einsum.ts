/**
 * Einsum, lowered to the ops it stands for: ReduceSum for indices only one operand has,
 * Transpose and Reshape into a batched MatMul, Transpose into the output order. Covers one
 * or two operands with each index at most once per operand ('bij,bjk->bik',
 * 'bhqd,bhkd->bhqk', 'nchw,kc->nkhw', '...ij,...jk->...ik', 'ij->ji', 'bij->b'); other
 * patterns (diagonals, three operands, broadcast index sizes) are UnsupportedOpErrors.
 */
import { sizeOf, type Value } from '../graph/graph.js';
import { matmul, reduceSum, reshape, transpose } from './builders.js';
import { UnsupportedOpError } from './types.js';

const refuse = (equation: string, why: string): never => {
  throw new UnsupportedOpError(`Einsum "${equation}": ${why}`);
};

/** Letters of each operand and of the output, ellipses spelt out in letters of their own. */
function parse(equation: string, xs: readonly Value[]): { ins: string[]; out: string } {
  const eq = equation.replace(/\s/g, '');
  const [lhs, rhs, ...more] = eq.split('->');
  if (more.length) refuse(equation, 'more than one "->"');
  const terms = lhs.split(',');
  if (terms.length !== xs.length) refuse(equation, `${terms.length} operands written, ${xs.length} given`);
  const valid = /^[A-Za-z]*(\.\.\.)?[A-Za-z]*$/;
  for (const t of [...terms, ...(rhs === undefined ? [] : [rhs])])
    if (!valid.test(t)) refuse(equation, `"${t}" is not a term of letters and at most one "..."`);
  // Ellipsis dimensions right-aligned, named by digits (never einsum letters).
  const spans = terms.map((t, i) => xs[i].rank - t.replace('...', '').length);
  const width = Math.max(0, ...spans);
  const dots = (n: number) => '0123456789'.slice(width - n, width);
  const ins = terms.map((t, i) => {
    if (spans[i] < 0 || (!t.includes('...') && spans[i] !== 0))
      refuse(equation, `operand ${i} has rank ${xs[i].rank}, its term "${t}"`);
    return t.replace('...', dots(spans[i]));
  });
  if (rhs !== undefined) return { ins, out: rhs.replace('...', dots(width)) };
  // Implicit output: the ellipsis, then the letters used once, in alphabetical order.
  const once = [...new Set(ins.join(''))].filter(
    (c) => /[A-Za-z]/.test(c) && ins.join('').split(c).length === 2,
  );
  return { ins, out: dots(width) + once.sort().join('') };
}

export function einsum(equation: string, ...xs: Value[]): Value {
  if (xs.length < 1 || xs.length > 2) refuse(equation, 'only one or two operands are supported');
  const { ins, out } = parse(equation, xs);
  const size = new Map<string, number>();
  ins.forEach((term, i) => {
    if (new Set(term).size !== term.length) refuse(equation, `operand ${i} repeats an index (a diagonal)`);
    [...term].forEach((c, k) => {
      const d = xs[i].shape[k];
      if (size.has(c) && size.get(c) !== d) refuse(equation, `index ${c} is ${size.get(c)} and ${d} long`);
      size.set(c, d);
    });
  });
  if (new Set(out).size !== out.length) refuse(equation, 'the output repeats an index');
  for (const c of out) if (!size.has(c)) refuse(equation, `output index ${c} is in no operand`);

  // Sum out what only one operand has and the output lacks.
  const needed = (c: string, i: number) => out.includes(c) || ins.some((t, j) => j !== i && t.includes(c));
  const terms = ins.map((t, i) => [...t].filter((c) => needed(c, i)).join(''));
  const vs = xs.map((x, i) => {
    const axes = [...ins[i]].flatMap((c, k) => (needed(c, i) ? [] : [k]));
    return axes.length ? reduceSum(x, axes) : x;
  });
  const dims = (letters: string) => [...letters].map((c) => size.get(c)!);
  const arrange = (v: Value, from: string, to: string) =>
    transpose(
      v,
      [...to].map((c) => from.indexOf(c)),
    );

  if (vs.length === 1) return arrange(vs[0], terms[0], out);
  const best = lowerings(terms[0], terms[1], out).sort((p, q) => p.cost - q.cost)[0];
  const [left, right] = best.swap ? [1, 0] : [0, 1];
  const { batch, lFree, rFree, contracted } = best;
  const asMatrices = (i: number, rows: string, cols: string) =>
    reshape(arrange(vs[i], terms[i], batch + rows + cols), [
      ...(batch ? [sizeOf(dims(batch))] : []),
      sizeOf(dims(rows)),
      sizeOf(dims(cols)),
    ]);
  const product = matmul(asMatrices(left, lFree, contracted), asMatrices(right, contracted, rFree));
  return arrange(reshape(product, dims(batch + lFree + rFree)), batch + lFree + rFree, out);
}

interface Lowering {
  swap: boolean;
  batch: string;
  lFree: string;
  rFree: string;
  contracted: string;
  /** Transposes it needs. */
  cost: number;
}

/** The ways to write A·B as one batched MatMul, each with the Transposes it needs. */
function lowerings(a: string, b: string, out: string): Lowering[] {
  const inOut = (c: string) => out.includes(c);
  const byOut = (s: string) => [...s].sort((p, q) => out.indexOf(p) - out.indexOf(q)).join('');
  const batch = byOut([...a].filter((c) => b.includes(c) && inOut(c)).join(''));
  return [false, true].flatMap((swap) => {
    const [l, r] = swap ? [b, a] : [a, b];
    const lFree = byOut([...l].filter((c) => !r.includes(c)).join(''));
    const rFree = byOut([...r].filter((c) => !l.includes(c)).join(''));
    return [l, r].map((order) => {
      const contracted = [...order].filter((c) => l.includes(c) && r.includes(c) && !inOut(c)).join('');
      const moves = [
        [l, batch + lFree + contracted],
        [r, batch + contracted + rFree],
        [batch + lFree + rFree, out],
      ];
      return { swap, batch, lFree, rFree, contracted, cost: moves.filter(([p, q]) => p !== q).length };
    });
  });
}
