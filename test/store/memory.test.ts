import { MemoryStore } from '../../src/store/memory/index.js';
import { storeContract } from './contract.js';

storeContract('memory', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));
