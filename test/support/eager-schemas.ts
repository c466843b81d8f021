import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** The expression a call chain starts from (`z` in `z.object(…).min(…)`), and whether it calls. */
function chainRoot(expression: ts.Expression): { id?: string; calls: boolean } {
  let e = expression;
  let calls = false;
  for (;;) {
    if (ts.isCallExpression(e)) {
      calls = true;
      e = e.expression;
    } else if (
      ts.isPropertyAccessExpression(e) ||
      ts.isParenthesizedExpression(e) ||
      ts.isAsExpression(e) ||
      ts.isSatisfiesExpression(e)
    )
      e = e.expression;
    else break;
  }
  return { id: ts.isIdentifier(e) ? e.text : undefined, calls };
}

/**
 * Every top-level `const X = …` in a contracts/ module whose value is built at import: a call chain
 * on `z` or on another contract (`Other.extend(…)`), or an object or array literal holding such
 * calls, not wrapped in `deferred(() => …)`.
 */
export function eagerSchemasIn(dir: string): string[] {
  const found: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    for (const statement of source.statements) {
      if (!ts.isVariableStatement(statement)) continue;
      for (const declaration of statement.declarationList.declarations) {
        const init = declaration.initializer;
        if (!init || !ts.isIdentifier(declaration.name)) continue;
        if (ts.isCallExpression(init) && init.expression.getText(source) === 'deferred') continue;
        if (buildsAtImport(init)) found.push(`${file}: ${declaration.name.text}`);
      }
    }
  }
  return found;
}

const globalNames = new Set(['Object', 'JSON', 'Array', 'Math', 'Number', 'String', 'Symbol']);

/**
 * Whether evaluating `e` builds a schema: a call chain on `z` or on a contract, or an object or
 * array literal with one among its values (`{ reason: z.string() }` spread into deferred contracts
 * still builds at import). A function, deferred or not, builds nothing until it is called.
 */
function buildsAtImport(e: ts.Expression): boolean {
  if (ts.isObjectLiteralExpression(e))
    return e.properties.some(
      (p) =>
        (ts.isPropertyAssignment(p) && buildsAtImport(p.initializer)) ||
        (ts.isSpreadAssignment(p) && buildsAtImport(p.expression)),
    );
  if (ts.isArrayLiteralExpression(e)) return e.elements.some((x) => buildsAtImport(x));
  const { id, calls } = chainRoot(e);
  return calls && id !== undefined && (id === 'z' || (/^[A-Z]/.test(id) && !globalNames.has(id)));
}
