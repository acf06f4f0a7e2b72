// Must be the first import of the entry: zod compiles object schemas with `new Function`
// when it may, and merely probing for that trips the page's CSP (no 'unsafe-eval'), which
// reports a violation. The contract's schemas are built when it is imported, so this runs first.
import { z } from 'zod';

z.config({ jitless: true });
