/** What the explorer's stores say when asked for a model or image they do not hold (server.ts answers 404). */
import { PssError } from '../errors.js';

export class NotFound extends PssError {}
