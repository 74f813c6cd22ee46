// Go's text/template error texts, which scripts written against Docker match: parse errors and
// undefined names give the line, execution errors the line:column and the action's text.

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

// The template's text after Docker's escapes, which positions in error messages count in.
export interface Source {
  text: string;
}

export function where(src: Source, pos: number): string {
  const before = src.text.slice(0, pos);
  const line = before.split('\n').length;
  return `${line}:${pos - (before.lastIndexOf('\n') + 1)}`;
}

export function lineError(src: Source, pos: number, msg: string): TemplateError {
  return new TemplateError(`template: :${where(src, pos).split(':')[0]}: ${msg}`);
}

export function execError(ctx: { src: Source }, pos: number, at: string, msg: string): TemplateError {
  return new TemplateError(`template: :${where(ctx.src, pos)}: executing "" at <${at}>: ${msg}`);
}
