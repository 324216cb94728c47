/** The engine the simulator runs by default: Ringcast's Totem engine. */
import { TotemNode } from '../membership/index.js';
import type { EngineFactory } from './simulator.js';

export const totemEngineFactory: EngineFactory = (opts) => new TotemNode(opts);
