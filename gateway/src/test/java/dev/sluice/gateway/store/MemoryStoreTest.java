package dev.sluice.gateway.store;

class MemoryStoreTest extends StoreContract {

    @Override
    protected Store open() {
        return Stores.memory();
    }

    @Override
    protected boolean durable() {
        return false;
    }
}
