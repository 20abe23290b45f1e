// The namespace helpers live in lab/netns.ts (the lab command uses them too);
// tests keep importing them from here.
export * from '../../lab/netns.js';
