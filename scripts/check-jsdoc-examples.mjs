// Lint step: fails when an exported symbol of a public entry point has no JSDoc @example.
import ts from 'typescript';
const entries = ['src/index.ts', 'src/testing/index.ts', 'src/health/index.ts'];
const program = ts.createProgram(entries, {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  experimentalDecorators: true,
});
const checker = program.getTypeChecker();
const missing = [];
for (const entry of entries) {
  const sf = program.getSourceFile(entry);
  const sym = checker.getSymbolAtLocation(sf);
  for (const exp of checker.getExportsOfModule(sym)) {
    const target = exp.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exp) : exp;
    const tags = target.getJsDocTags(checker);
    if (!tags.some((t) => t.name === 'example')) missing.push(`${entry}: ${exp.getName()}`);
  }
}
if (missing.length) {
  console.error(`Exported symbols without a JSDoc @example:\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log(`jsdoc: every exported symbol of ${entries.length} entry points has an @example`);
