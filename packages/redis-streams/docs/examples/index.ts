import './src-InMemoryBackend.ts-module-InMemoryBackend-0'
